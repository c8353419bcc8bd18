// Reporting form: every row is checked by the reporting rules as one types (units, items,
// region), and more rows can be added.
import { DATA, request, t } from "./common.js";

const pg = DATA.page;
const form = document.getElementById("report-form");

function rowData(tr) {
  const row = {};
  for (const input of tr.querySelectorAll("input, select")) {
    const field = input.name.split("-").slice(2).join("-");
    row[field] = input.value;
  }
  return row;
}

let timer = null;
let asked = 0;
async function check(tr) {
  const msg = tr.querySelector("[data-row-msg]");
  const row = rowData(tr);
  const mine = ++asked;
  tr.dataset.asked = String(mine);
  if (!row.item && !row.quantity) {
    msg.textContent = "";
    tr.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
    return;
  }
  const district = form.querySelector("[name=district_code]").value;
  const res = await request(pg.check_url, { method: "POST", body: { row, district_code: district, index: Number(tr.dataset.index) } });
  if (tr.dataset.asked !== String(mine)) return; // a newer check of this row is under way
  msg.textContent = res.problems.map((p) => `${p.what} (${t("expected")}: ${p.expected})`).join("; ");
  msg.dataset.count = String(res.problems.length);
  const unitBad = res.problems.some((p) => /unit/i.test(p.expected));
  const unit = tr.querySelector("[name$=-unit]");
  if (unitBad) unit.setAttribute("aria-invalid", "true");
  else unit.removeAttribute("aria-invalid");
}

function watch(tr) {
  tr.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => check(tr), 250);
  });
  tr.addEventListener("change", () => check(tr));
}

if (form) {
  const body = form.querySelector("#report-rows tbody");
  body.querySelectorAll("tr.report-row").forEach((tr) => {
    watch(tr);
    if (rowData(tr).item) check(tr);
  });
  document.getElementById("add-row").addEventListener("click", () => {
    const rows = body.querySelectorAll("tr.report-row");
    const last = rows[rows.length - 1];
    const next = last.cloneNode(true);
    const i = rows.length;
    next.dataset.index = String(i);
    next.querySelectorAll("input, select").forEach((e) => {
      e.name = e.name.replace(/^row-\d+-/, `row-${i}-`);
      if (e.tagName === "INPUT" && !e.name.endsWith("region_code")) e.value = "";
      e.removeAttribute("aria-invalid");
    });
    next.querySelector("[data-row-msg]").textContent = "";
    body.append(next);
    watch(next);
  });
}
