// Package static holds the dashboard's own CSS and JavaScript, embedded in the binary.
package static

import "embed"

// FS is app.js, style.css and the bundles esbuild builds from web/frontend into dist/
// (CodeMirror for the editor, xterm.js for the terminal). The dist files are built, not
// committed: if this fails to compile with "pattern dist/...: no matching files found",
// run `make bundle` (npm ci + esbuild), which `make build`, `make run` and `make test` do.
//
//go:embed *.js *.css favicon.svg dist/editor.js dist/terminal.js dist/terminal.css dist
var FS embed.FS
