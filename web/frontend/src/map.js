// The one map of the site: MapLibre GL JS with no online base map (an intranet works), the
// districts drawn from the server's GeoJSON, optional base tiles from a configured URL.
import * as maplibregl from "maplibre-gl";
import { DATA } from "./common.js";

maplibregl.setWorkerUrl("/static/dist/maplibre-gl-worker.mjs");
if (document.getElementById("map")) maplibregl.prewarm(); // start the workers before the map

export const COLORS = {
  outline: "#35524a",
  water: "#8ec5e8",
  parcel: "#b8860b",
  station: "#c0392b",
  highlight: "#ff7f00",
};

function style() {
  const sources = {};
  const layers = [{ id: "background", type: "background", paint: { "background-color": "#f4f1ea" } }];
  if (DATA.basemap) {
    sources.basemap = { type: "raster", tiles: [DATA.basemap], tileSize: 256, attribution: DATA.basemap_attribution || "" };
    layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  return { version: 8, sources, layers };
}

/** A map in element `el` fitted to `bounds` ([w, s, e, n]). Resolves once the style is loaded. */
export function createMap(el, bounds, options = {}) {
  const map = new maplibregl.Map({
    container: el,
    style: style(),
    bounds,
    fitBoundsOptions: { padding: 16 },
    attributionControl: DATA.basemap ? { compact: true } : false,
    dragRotate: false,
    pitchWithRotate: false,
    ...options,
  });
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  el.dataset.mapState = "loading";
  map.on("idle", () => {
    el.dataset.mapState = "idle";
  });
  return new Promise((resolve) => map.on("load", () => resolve(map)));
}

/** District polygons with outlines; `colorExpr` paints the fill (a choropleth), or none. */
export function addDistricts(map, data, colorExpr) {
  map.addSource("districts", { type: "geojson", data, promoteId: "code" });
  map.addLayer({
    id: "districts-fill",
    type: "fill",
    source: "districts",
    paint: {
      "fill-color": colorExpr || "#ffffff",
      "fill-opacity": colorExpr ? ["case", ["boolean", ["feature-state", "hover"], false], 0.95, 0.8] : 0.01,
    },
  });
  map.addLayer({
    id: "districts-line",
    type: "line",
    source: "districts",
    paint: { "line-color": COLORS.outline, "line-width": ["case", ["boolean", ["feature-state", "hover"], false], 2.5, 1] },
  });
  let hovered = null;
  map.on("mousemove", "districts-fill", (e) => {
    if (!e.features.length) return;
    if (hovered !== null) map.setFeatureState({ source: "districts", id: hovered }, { hover: false });
    hovered = e.features[0].id;
    map.setFeatureState({ source: "districts", id: hovered }, { hover: true });
  });
  map.on("mouseleave", "districts-fill", () => {
    if (hovered !== null) map.setFeatureState({ source: "districts", id: hovered }, { hover: false });
    hovered = null;
  });
}

/** HTML labels at the features' label points (no glyph server needed); labels of small
 * areas appear only once the map is zoomed in far enough for them not to overlap. */
export function addLabels(map, features, cls = "map-label") {
  const labels = [];
  for (const f of features) {
    const el = document.createElement("div");
    el.className = cls;
    el.textContent = f.properties.label;
    new maplibregl.Marker({ element: el }).setLngLat(f.properties.label_point).addTo(map);
    labels.push([el, f.properties.area_km2 || Infinity]);
  }
  const update = () => {
    // a label needs about 60 × 16 px: show it when its area covers that many pixels
    const mPerPx = 40075016 * Math.cos((map.getCenter().lat * Math.PI) / 180) / (512 * 2 ** map.getZoom());
    for (const [el, km2] of labels) {
      el.hidden = km2 * 1e6 < 60 * 16 * 2 * mPerPx * mPerPx;
    }
  };
  map.on("zoom", update);
  update();
}

/** Points (stations) as circles. */
export function addPoints(map, id, data, color) {
  map.addSource(id, { type: "geojson", data });
  map.addLayer({
    id,
    type: "circle",
    source: id,
    paint: { "circle-radius": 6, "circle-color": ["coalesce", ["get", "color"], color], "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 },
  });
}

/** Polygons (water, parcels) with fill and outline. */
export function addPolygons(map, id, data, color, opacity = 0.5) {
  map.addSource(id, { type: "geojson", data });
  map.addLayer({ id: `${id}-fill`, type: "fill", source: id, paint: { "fill-color": color, "fill-opacity": opacity } });
  map.addLayer({ id: `${id}-line`, type: "line", source: id, paint: { "line-color": color, "line-width": 1 } });
}

/** A popup at a point with the given DOM content. */
export function popup(map, lngLat, content) {
  return new maplibregl.Popup({ maxWidth: "320px" }).setLngLat(lngLat).setDOMContent(content).addTo(map);
}

export function pointer(map, layers) {
  for (const id of layers) {
    map.on("mouseenter", id, () => (map.getCanvas().style.cursor = "pointer"));
    map.on("mouseleave", id, () => (map.getCanvas().style.cursor = ""));
  }
}

export { maplibregl };
