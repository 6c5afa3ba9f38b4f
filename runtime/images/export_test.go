package images

// SetRedisPath points the redis built-in at another host file; it returns the undo.
func SetRedisPath(p string) func() {
	old := redisPath
	redisPath = p
	return func() { redisPath = old }
}
