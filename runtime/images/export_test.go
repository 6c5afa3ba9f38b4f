package images

import "context"

// SetRedisPath points the redis built-in at another host file; it returns the undo.
func SetRedisPath(p string) func() {
	old := redisPath
	redisPath = p
	return func() { redisPath = old }
}

// BuiltinsToMake names the built-ins EnsureBuiltins would make now (missing, or made from
// another recipe).
func (s *Service) BuiltinsToMake(ctx context.Context) ([]string, error) {
	var list []*builtin
	for i := range builtins {
		list = append(list, &builtins[i])
	}
	todo, _, err := s.plan(ctx, list)
	var names []string
	for _, p := range todo {
		names = append(names, p.b.Name)
	}
	return names, err
}
