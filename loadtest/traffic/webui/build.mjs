// Bundles locust's web UI (the locust-ui library) with the Shop tab into dist/, the directory
// `locust --build-path` serves: dist/index.html is the Jinja template locust renders.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";

mkdirSync("dist/assets", { recursive: true });
await build({
  entryPoints: ["src/main.jsx"],
  bundle: true,
  minify: true,
  format: "esm",
  jsx: "automatic",
  target: "es2020",
  outfile: "dist/assets/shop-webui.js",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
for (const icon of ["favicon-light.png", "favicon-dark.png"]) {
  copyFileSync(`node_modules/locust-ui/lib/assets/${icon}`, `dist/assets/${icon}`);
}
writeFileSync(
  "dist/index.html",
  `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <link rel="shortcut icon" href="./assets/favicon-light.png" media="(prefers-color-scheme: light)">
    <link rel="shortcut icon" href="./assets/favicon-dark.png" media="(prefers-color-scheme: dark)">
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Locust · shop</title>
    <script type="module" crossorigin src="./assets/shop-webui.js"></script>
  </head>
  <body>
    <div id="root"></div>
    <script>
      window.templateArgs = {{ template_args|tojson }}
    </script>
  </body>
</html>
`,
);
