// Runs page: the dataset's year fills the year field; a run job's page follows the job's
// server-sent events with a live progress bar, then links to the stored run (compare, publish).
import { DATA, request, showProblems, t } from "./common.js";
import { follow, showProgress } from "./jobs.js";

const $ = (id) => document.getElementById(id);

function datasetYear() {
  const select = $("dataset");
  if (!select) return;
  select.addEventListener("change", () => {
    const year = select.selectedOptions[0] && select.selectedOptions[0].dataset.year;
    if (year) $("year").value = year;
  });
}

function showStatus(job) {
  const badge = $("job-status");
  badge.className = `badge ${job.status}`;
  badge.textContent = t(`job_status_${job.status}`);
  $("job").dataset.status = job.status;
}

function ended(job) {
  showStatus(job);
  const form = $("job-cancel-form");
  if (form) form.hidden = true;
  if (job.status === "succeeded" && job.run_id) {
    $("job-progress").value = 1;
    $("job-done-text").textContent = t("job_done", { run: job.run_id });
    $("job-compare").href = `/runs/${job.run_id}?done=finished`;
    $("job-done").hidden = false;
    return;
  }
  const err = job.error || {};
  const message = job.status === "cancelled" ? t("job_cancelled") : err.detail || t("job_failed");
  showProblems($("job-problems"), message, err.problems || []);
}

async function followJob(job) {
  const seen = [];
  const statuses = [];
  const panel = $("job");
  const onProgress = (j) => {
    seen.push(j.progress);
    statuses.push(j.status);
    panel.dataset.seen = seen.join(" "); // what the bar showed, for the browser tests
    panel.dataset.statuses = statuses.join(" ");
    showStatus(j);
    showProgress($("job-progress"), $("job-stage"), j);
  };
  const form = $("job-cancel-form");
  if (form) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await request(job.cancel, { method: "POST" });
      } catch (err) {
        showProblems($("job-problems"), err.message, err.problems);
      }
    });
  }
  try {
    ended(await follow(job.events, onProgress));
  } catch (err) {
    showProblems($("job-problems"), err.message, []);
  }
}

datasetYear();
if (DATA.page && DATA.page.job) followJob(DATA.page.job);
