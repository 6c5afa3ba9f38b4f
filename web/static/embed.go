// Package static holds the dashboard's own CSS and JavaScript, embedded in the binary.
package static

import "embed"

// FS is app.js, style.css and friends.
//
//go:embed *.js *.css
var FS embed.FS
