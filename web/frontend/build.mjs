// Bundles the dashboard's editor and terminal (CodeMirror 6, xterm.js from the npm
// registry) into web/static/dist, which the Go binary embeds. Run by `make bundle`.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
await esbuild.build({
  entryPoints: { editor: path.join(here, "src/editor.js"), terminal: path.join(here, "src/terminal.js") },
  outdir: path.join(here, "../static/dist"),
  bundle: true,
  minify: true,
  format: "iife",
  target: ["chrome100", "firefox100", "safari15"],
  legalComments: "linked",
  logLevel: "warning",
});
