// Monitoring: stations on the map (colour = latest class), and on a station's page its
// series with the class limits and the class (or AQI) of every sample.
import { DATA, fmt, request } from "./common.js";
import { COLORS, addDistricts, addPoints, createMap, pointer } from "./map.js";
import { chart } from "./charts.js";

const pg = DATA.page;
const CLASS_COLORS = ["#2e86de", "#27ae60", "#f1c40f", "#e67e22", "#c0392b", "#6c3483"];
const AQI_COLORS = ["#00e400", "#ffff00", "#ff7e00", "#ff0000", "#99004c", "#7e0023"];

async function overview() {
  const map = await createMap(document.getElementById("map"), pg.bounds);
  window.evMap = map;
  addDistricts(map, await request("/web/data/districts.geojson"), null);
  addPoints(map, "stations", await request(pg.stations_url), COLORS.station);
  pointer(map, ["stations"]);
  map.on("click", "stations", (e) => { window.location.href = `/monitoring/station/${encodeURIComponent(e.features[0].properties.code)}`; });
}

function station() {
  const s = pg.series;
  const marks = pg.limits.map((v, i) => ({ yAxis: v, name: pg.class_labels[i], lineStyle: { color: CLASS_COLORS[i], type: "dashed" },
    label: { formatter: `${pg.class_labels[i]}`, position: "end" } }));
  chart(document.getElementById("chart-series"), {
    tooltip: { trigger: "axis", valueFormatter: (v) => `${fmt(v)} ${pg.unit}` },
    grid: { left: 8, right: 40, top: 24, bottom: 40, containLabel: true },
    xAxis: { type: "time" },
    yAxis: { type: "value", name: pg.unit, scale: true },
    dataZoom: [{ type: "inside" }, { type: "slider", height: 16, bottom: 4 }],
    series: [{ name: pg.name, type: "line", showSymbol: false, data: s.map((p) => [p.t, p.v]),
      markLine: marks.length ? { symbol: "none", data: marks, silent: true } : undefined,
      markPoint: { symbolSize: 28, data: s.filter((p) => p.flags.length).slice(0, 40).map((p) => ({ coord: [p.t, p.v], value: "!" })) } }],
  });
  const air = pg.kind === "air";
  chart(document.getElementById("chart-class"), {
    tooltip: { trigger: "axis" },
    grid: { left: 8, right: 24, top: 16, bottom: 24, containLabel: true },
    xAxis: { type: "time" },
    yAxis: air ? { type: "value", name: "AQI" }
      : { type: "value", min: 1, max: 6, interval: 1, inverse: true, axisLabel: { formatter: (v) => pg.class_labels[v - 1] || "" } },
    series: [{ type: "bar", barMaxWidth: 6,
      data: pg.classes.map((c) => ({ value: [c.t, air ? c.aqi : c.class],
        itemStyle: { color: air ? AQI_COLORS[c.band - 1] : CLASS_COLORS[c.class - 1] } })) }],
  });
}

if (document.getElementById("chart-series")) station();
else if (document.getElementById("map")) overview();
