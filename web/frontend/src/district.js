// District page: the district on the map (with its stations and parcels when signed in)
// and its GEP trend with the quantity / price decomposition of each change.
import { DATA, fmt, request, t } from "./common.js";
import { COLORS, addDistricts, addLabels, addPoints, addPolygons, createMap, pointer } from "./map.js";

const pg = DATA.page;

async function drawMap() {
  const el = document.getElementById("map");
  const [districts, map] = await Promise.all([request(pg.districts_url), createMap(el, pg.bounds)]);
  addDistricts(map, districts, ["case", ["==", ["get", "code"], pg.district], ["get", "color"], "#ffffff"]);
  addLabels(map, districts.features.filter((f) => f.properties.code === pg.district));
  if (pg.parcels_url) {
    addPolygons(map, "parcels", await request(pg.parcels_url), COLORS.parcel, 0.6);
    pointer(map, ["parcels-fill"]);
    map.on("click", "parcels-fill", (e) => { window.location.href = `/register/parcel/${e.features[0].properties.id}`; });
  }
  if (pg.stations_url) {
    addPoints(map, "stations", await request(pg.stations_url), COLORS.station);
    pointer(map, ["stations"]);
    map.on("click", "stations", (e) => { window.location.href = `/monitoring/station/${encodeURIComponent(e.features[0].properties.code)}`; });
  }
  window.evMap = map;
}

async function drawTrend() {
  const { chart } = await import("./charts.js");
  const tr = pg.trend;
  chart(document.getElementById("chart-trend"), {
    tooltip: { trigger: "axis", valueFormatter: (v) => (v === null ? "—" : `${fmt(v)} ${pg.unit}`) },
    legend: { top: 0 },
    grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: tr.years.map(String) },
    yAxis: { type: "value", name: pg.unit, axisLabel: { formatter: (v) => fmt(v).replace(/\.00$/, "") } },
    series: [
      { name: t("gep"), type: "bar", data: tr.values, barMaxWidth: 48 },
      { name: t("quantity_effect"), type: "bar", stack: "change", data: tr.qe, barMaxWidth: 28 },
      { name: t("price_effect"), type: "bar", stack: "change", data: tr.pe, barMaxWidth: 28 },
    ],
  });
}

drawMap();
drawTrend();
