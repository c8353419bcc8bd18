// Public home: district choropleth of GEP (click → district page), composition and ranking.
import { DATA, request } from "./common.js";
import { addDistricts, addLabels, createMap, pointer } from "./map.js";

const home = DATA.page;

async function drawMap() {
  const el = document.getElementById("map");
  // the boundaries load while the map starts
  const [data, map] = await Promise.all([request(home.districts_url), createMap(el, home.bounds)]);
  addDistricts(map, data, ["get", "color"]);
  addLabels(map, data.features);
  pointer(map, ["districts-fill"]);
  map.on("click", "districts-fill", (e) => {
    window.location.href = `/district/${encodeURIComponent(e.features[0].properties.code)}`;
  });
  map.on("mousemove", "districts-fill", (e) => {
    el.title = `${e.features[0].properties.label}: ${e.features[0].properties.value_text} ${home.unit}`;
  });
  window.evMap = map;
}

drawMap();
// the charts' code loads after the map has started (it is not needed for the first view)
import("./charts.js").then(({ pie, ranking }) => {
  pie(document.getElementById("chart-categories"), home.categories, home.unit);
  ranking(document.getElementById("chart-ranking"), home.ranking.names, home.ranking.values, home.unit,
    (i) => { window.location.href = `/district/${encodeURIComponent(home.ranking.codes[i])}`; });
});
