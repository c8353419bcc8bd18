// Plot assessment (地块级核算): draw a polygon or upload a file, get the plot's GEP (a
// background job on the server), then try a scenario and see the before/after deltas.
import { TerraDraw, TerraDrawPolygonMode, TerraDrawRectangleMode, TerraDrawSelectMode } from "terra-draw";
import { TerraDrawMapLibreGLAdapter } from "terra-draw-maplibre-gl-adapter";
import { DATA, request, showProblems, t } from "./common.js";
import { COLORS, addDistricts, addPolygons, createMap } from "./map.js";
import { follow, showProgress } from "./jobs.js";

const pg = DATA.page;
const $ = (id) => document.getElementById(id);
let plot = null; // the current plot: GeoJSON geometry in lon/lat

function setPlot(map, draw, geometry) {
  plot = geometry;
  $("plot-geojson").value = JSON.stringify(geometry);
  $("plot-problems").hidden = true;
  if ($("assess")) $("assess").disabled = !pg.can_assess;
  if (map.getSource("uploaded")) map.getSource("uploaded").setData({ type: "FeatureCollection", features: [{ type: "Feature", geometry, properties: {} }] });
}

/** What every plot and scenario job names: the published run's dataset, year, profile, CRS. */
function jobBody(extra) {
  return { dataset: pg.dataset, year: pg.year, profile: pg.profile, crs: pg.crs, geometry: plot, ...extra };
}

async function run(kind, body) {
  const panel = $(`${kind}-result`);
  // the plot's problems (a bad geometry) are shown next to the map
  const problems = $(kind === "plot" ? "plot-problems" : `${kind}-problems`);
  problems.hidden = true;
  panel.replaceChildren();
  const started = performance.now();
  try {
    const job = await request(pg[`${kind}_url`], { method: "POST", body });
    const ended = await follow(job.events, (j) => showProgress($(`${kind}-progress`), $(`${kind}-stage`), j));
    panel.dataset.job = String(ended.id);
    $(`${kind}-progress`).hidden = true;
    $(`${kind}-stage`).textContent = "";
    if (ended.status !== "succeeded") {
      const err = ended.error || {};
      showProblems(problems, err.detail || t("job_failed"), err.problems || []);
      return;
    }
    panel.innerHTML = await request(`${pg[`${kind}_url`]}/${ended.id}`);
    panel.dataset.ms = String(Math.round(performance.now() - started));
    panel.dataset.state = "shown";
    if (kind === "plot") $("scenario-form").hidden = false;
  } catch (err) {
    $(`${kind}-progress`).hidden = true;
    showProblems(problems, err.message, err.problems);
  }
}

function scenarioBody() {
  const rules = [];
  document.querySelectorAll("#scenario-form .rule").forEach((row) => {
    const from = row.querySelector("[name=from]").value;
    if (!from) return;
    rules.push({ from: [Number(from)], to: Number(row.querySelector("[name=to]").value),
      share: Number(row.querySelector("[name=share]").value) / 100 });
  });
  const cap = $("reservoir-capacity").value;
  const params = {};
  const pid = $("param-id").value.trim();
  if (pid) params[pid] = Number($("param-value").value);
  return jobBody({ scenario: { conversion: rules,
    reservoir: cap ? [{ name: t("new_reservoir"), capacity_wan_m3: Number(cap) }] : [], parameters: params } });
}

async function main() {
  const [map, districts] = await Promise.all([createMap($("map"), pg.bounds, { maxZoom: 17 }), request(pg.districts_url)]);
  window.evMap = map;
  addDistricts(map, districts, null);
  addPolygons(map, "uploaded", { type: "FeatureCollection", features: [] }, COLORS.highlight, 0.25);
  const draw = new TerraDraw({
    adapter: new TerraDrawMapLibreGLAdapter({ map }),
    modes: [new TerraDrawPolygonMode(), new TerraDrawRectangleMode(), new TerraDrawSelectMode({ flags: { polygon: { feature: { draggable: true, coordinates: { draggable: true } } } } })],
  });
  draw.start();
  window.evDraw = draw;
  const pick = (mode) => {
    draw.clear();
    draw.setMode(mode);
    document.querySelectorAll("[data-mode]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.mode === mode)));
  };
  document.querySelectorAll("[data-mode]").forEach((b) => b.addEventListener("click", () => pick(b.dataset.mode)));
  draw.on("finish", (id) => {
    const f = draw.getSnapshot().find((x) => x.id === id);
    if (f) setPlot(map, draw, f.geometry);
  });
  $("plot-file").addEventListener("change", async () => {
    const file = $("plot-file").files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    try {
      const res = await request(pg.file_url, { method: "POST", form });
      draw.clear();
      setPlot(map, draw, res.geometry);
      map.fitBounds(res.bounds, { padding: 40 });
    } catch (err) {
      showProblems($("plot-problems"), err.message, err.problems);
    }
  });
  const assess = $("assess");
  if (assess) assess.addEventListener("click", () => plot && run("plot", jobBody({})));
  $("scenario-form").addEventListener("submit", (e) => { e.preventDefault(); if (plot) run("scenario", scenarioBody()); });
}

main();
