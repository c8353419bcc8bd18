// Bundle the page scripts and styles into src/ecovalue/web/static/dist (served by the app).
// esbuild, ES modules with shared chunks; MapLibre's worker is copied beside the bundle.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "src", "ecovalue", "web", "static", "dist");
const pages = ["home", "district", "mapview", "plot", "register", "monitoring", "reporting", "runs"];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await esbuild.build({
  entryPoints: [...pages.map((p) => join(here, "src", `${p}.js`)), join(here, "src", "app.css")],
  outdir: out,
  bundle: true,
  splitting: true,
  format: "esm",
  target: ["es2020"],
  minify: true,
  sourcemap: false,
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});
copyFileSync(join(here, "node_modules", "maplibre-gl", "dist", "maplibre-gl-worker.mjs"),
  join(out, "maplibre-gl-worker.mjs"));
writeFileSync(join(out, "meta.json"), JSON.stringify(result.metafile));
console.log(`web assets built into ${out}`);
