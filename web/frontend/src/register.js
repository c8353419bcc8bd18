// Register pages: the parcels the user may read on the map (click a parcel to open it).
import { DATA, request } from "./common.js";
import { COLORS, addDistricts, addPolygons, createMap, pointer } from "./map.js";

const pg = DATA.page;

function bounds(fc) {
  let w = 180, s = 90, e = -180, n = -90;
  const visit = (c) => {
    if (typeof c[0] === "number") {
      w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]);
    } else c.forEach(visit);
  };
  fc.features.forEach((f) => visit(f.geometry.coordinates));
  return fc.features.length ? [w, s, e, n] : [113.7, 29.97, 115.08, 31.36];
}

async function main() {
  const map = await createMap(document.getElementById("map"), bounds(pg.parcels), { maxZoom: 17 });
  window.evMap = map;
  addDistricts(map, await request("/web/data/districts.geojson"), null);
  addPolygons(map, "parcels", pg.parcels, COLORS.parcel, 0.55);
  pointer(map, ["parcels-fill"]);
  map.on("click", "parcels-fill", (e) => { window.location.href = `/register/parcel/${e.features[0].properties.id}`; });
}

main();
