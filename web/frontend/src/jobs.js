// Following a background job (accounting runs, plots, scenarios) with server-sent events.
import { t } from "./common.js";

/** Follow `eventsUrl`; `onProgress(job)` at every change; resolves with the ended job. */
export function follow(eventsUrl, onProgress) {
  return new Promise((resolve, reject) => {
    const source = new EventSource(eventsUrl, { withCredentials: true });
    source.addEventListener("progress", (e) => onProgress(JSON.parse(e.data)));
    source.addEventListener("end", (e) => { source.close(); resolve(JSON.parse(e.data)); });
    source.addEventListener("timeout", () => { source.close(); reject(new Error(t("job_timeout"))); });
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) reject(new Error(t("job_lost")));
    };
  });
}

/** Show a job's stage and progress in a <progress> and a label. */
export function showProgress(bar, label, job) {
  bar.hidden = false;
  bar.max = 1;
  bar.value = job.progress || 0;
  label.textContent = `${job.stage || t("job_queued")} ${job.total ? `${job.done}/${job.total}` : ""}`;
}
