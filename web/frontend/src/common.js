// What every page script shares: the page's data block, labels, CSRF-aware fetch, numbers.

/** The JSON the server put in <script id="ev-data" type="application/json">. */
export function pageData() {
  const el = document.getElementById("ev-data");
  return el ? JSON.parse(el.textContent) : {};
}

const DATA = pageData();

/** A label of the page's language (the server sends the js.* messages). */
export function t(key, values = {}) {
  const text = (DATA.messages || {})[key];
  if (text === undefined) {
    throw new Error(`missing message js.${key}`);
  }
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in values ? String(values[k]) : `{${k}}`));
}

/** fetch with the page's CSRF value and JSON; throws an Error carrying the server's problems. */
export async function request(url, { method = "GET", body, form } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = DATA.csrf;
  let payload;
  if (form) {
    payload = form;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  const type = res.headers.get("content-type") || "";
  const data = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    const err = new Error((data && data.detail) || `HTTP ${res.status}`);
    err.status = res.status;
    err.problems = (data && data.problems) || [];
    throw err;
  }
  return data;
}

const GROUPED = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** A number with thousands separators and two decimals (Chinese statistics' convention). */
export function fmt(v) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return "—";
  const x = Number(v);
  if (x !== 0 && Math.abs(x) < 0.01) return x.toPrecision(3);
  return GROUPED.format(x);
}

/** Show a list of problems ({where, what, expected, fix}) in a container element. */
export function showProblems(el, message, problems) {
  el.replaceChildren();
  el.hidden = false;
  const p = document.createElement("p");
  p.textContent = message;
  el.append(p);
  if (problems && problems.length) {
    const ul = document.createElement("ul");
    for (const pr of problems) {
      const li = document.createElement("li");
      li.textContent = `${pr.where}: ${pr.what}. ${t("expected")}: ${pr.expected}. ${t("fix")}: ${pr.fix}`;
      ul.append(li);
    }
    el.append(ul);
  }
}

export { DATA };
