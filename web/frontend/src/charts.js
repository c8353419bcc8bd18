// Charts with ECharts (tree-shaken: the chart kinds and components the pages use).
import * as echarts from "echarts/core";
import { BarChart, LineChart, PieChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent, MarkLineComponent, DataZoomComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import { fmt } from "./common.js";

echarts.use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TooltipComponent, MarkLineComponent, DataZoomComponent, CanvasRenderer]);

export const PALETTE = ["#3a7d44", "#2f6f9f", "#c97b2a", "#8c4f9f", "#b23a48", "#4aa3a1", "#7a7a3a", "#5c6bc0"];

/** A chart in `el` that follows the element's size. */
export function chart(el, option) {
  const c = echarts.init(el, null, { renderer: "canvas" });
  c.setOption({ color: PALETTE, animation: false, textStyle: { fontFamily: "inherit" }, ...option });
  new ResizeObserver(() => c.resize()).observe(el);
  el.dataset.chartState = "rendered";
  return c;
}

/** Pie of named parts; `unit` is the page's money unit label. */
export function pie(el, items, unit) {
  return chart(el, {
    tooltip: { trigger: "item", valueFormatter: (v) => `${fmt(v)} ${unit}` },
    legend: { bottom: 0, type: "scroll" },
    series: [{ type: "pie", radius: ["35%", "65%"], center: ["50%", "45%"], data: items,
      label: { formatter: (p) => `${p.name}\n${p.percent.toFixed(1)} %` } }],
  });
}

/** Horizontal bars, largest on top. */
export function ranking(el, names, values, unit, onClick) {
  const c = chart(el, {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: (v) => `${fmt(v)} ${unit}` },
    grid: { left: 8, right: 24, top: 8, bottom: 24, containLabel: true },
    xAxis: { type: "value", name: unit, nameLocation: "middle", nameGap: 24, axisLabel: { formatter: (v) => fmt(v).replace(/\.00$/, "") } },
    yAxis: { type: "category", data: names, inverse: true },
    series: [{ type: "bar", data: values, itemStyle: { color: PALETTE[0] } }],
  });
  if (onClick) c.on("click", (p) => onClick(p.dataIndex));
  return c;
}

export { echarts };
