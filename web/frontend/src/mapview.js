// Map page: a run's per-pixel layer as tiles with its legend, districts, water, parcels and
// stations; click anywhere to identify what is there.
import { DATA, request, t } from "./common.js";
import { COLORS, addDistricts, addLabels, addPoints, addPolygons, createMap, pointer, popup } from "./map.js";

const pg = DATA.page;

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  e.append(...children);
  return e;
}

async function showLayer(map, name) {
  const legendBox = document.getElementById("legend");
  if (map.getLayer("raster")) map.removeLayer("raster");
  if (map.getSource("raster")) map.removeSource("raster");
  if (!name) return;
  const lg = await request(`/web/data/legend/${pg.run}/${name}.json?lang=${pg.lang}`);
  map.addSource("raster", { type: "raster", tiles: [lg.tiles], tileSize: 256, minzoom: 6, maxzoom: 16 });
  const before = map.getLayer("districts-fill") ? "districts-fill" : undefined;
  map.addLayer({ id: "raster", type: "raster", source: "raster",
    paint: { "raster-opacity": Number(document.getElementById("opacity").value) / 100, "raster-resampling": "nearest" } }, before);
  legendBox.replaceChildren(
    el("div", { className: "legend" },
      el("div", { className: "title", textContent: `${lg.name} (${lg.unit})` }),
      ...lg.classes.map((c) => el("div", { className: "row" },
        el("span", { className: "sw", style: `background:${c.color}` }), c.label))));
  const url = new URL(window.location.href);
  url.searchParams.set("layer", name);
  window.history.replaceState(null, "", url);
}

function toggle(map, id, layerIds) {
  const box = document.getElementById(id);
  if (!box) return;
  box.addEventListener("change", () => {
    for (const l of layerIds) if (map.getLayer(l)) map.setLayoutProperty(l, "visibility", box.checked ? "visible" : "none");
  });
}

async function identify(map, e) {
  const panel = document.getElementById("identify");
  panel.replaceChildren(el("p", { className: "muted", textContent: t("loading") }));
  const { lng, lat } = e.lngLat;
  const info = await request(`/web/data/identify?run=${pg.run}&lon=${lng}&lat=${lat}&lang=${pg.lang}`);
  const parts = [el("p", {}, el("strong", { textContent: `${t("district")}: ` }),
    info.district ? el("a", { href: `/district/${info.district.code}`, textContent: info.district.name }) : "—")];
  for (const p of info.parcels) {
    parts.push(el("p", {}, el("strong", { textContent: `${t("parcel")}: ` }),
      el("a", { href: `/register/parcel/${p.id}`, textContent: `${p.code} (${p.resource_type})` })));
  }
  const rows = info.values.filter((v) => v.kind === "value" || v.value !== null).map((v) =>
    el("tr", {}, el("td", { textContent: v.name }), el("td", { className: "num", textContent: v.value === null ? t("no_data") : v.text }),
      el("td", { textContent: v.unit })));
  parts.push(el("h3", { textContent: t("layer_values") }), el("table", { className: "data" }, el("tbody", {}, ...rows)));
  panel.replaceChildren(...parts);
}

async function main() {
  const [map, districts] = await Promise.all([createMap(document.getElementById("map"), pg.bounds),
    request(pg.districts_url)]);
  window.evMap = map;
  addDistricts(map, districts, null);
  addLabels(map, districts.features);
  addPolygons(map, "water", await request(pg.water_url), COLORS.water, 0.25);
  if (pg.parcels_url) addPolygons(map, "parcels", await request(pg.parcels_url), COLORS.parcel, 0.35);
  if (pg.stations_url) {
    addPoints(map, "stations", await request(pg.stations_url), COLORS.station);
    pointer(map, ["stations"]);
    map.on("click", "stations", (e) => {
      const p = e.features[0].properties;
      const box = el("div", {}, el("strong", { textContent: p.name }), el("br"),
        p.water_class && p.water_class !== "null" ? `${t("water_class")}: ${p.water_class}` : (p.aqi && p.aqi !== "null" ? `AQI ${p.aqi}` : ""),
        el("br"), el("a", { href: `/monitoring/station/${encodeURIComponent(p.code)}`, textContent: t("open") }));
      popup(map, e.lngLat, box);
      e.preventDefault();
    });
  }
  toggle(map, "show-districts", ["districts-fill", "districts-line"]);
  toggle(map, "show-water", ["water-fill", "water-line"]);
  toggle(map, "show-parcels", ["parcels-fill", "parcels-line"]);
  toggle(map, "show-stations", ["stations"]);
  const select = document.getElementById("layer-select");
  if (select) select.addEventListener("change", () => showLayer(map, select.value));
  const opacity = document.getElementById("opacity");
  if (opacity) opacity.addEventListener("input", () => {
    if (map.getLayer("raster")) map.setPaintProperty("raster", "raster-opacity", Number(opacity.value) / 100);
  });
  await showLayer(map, pg.layer);
  map.on("click", (e) => { if (!e.defaultPrevented) identify(map, e); });
}

main();
