// musicd web: a little plain JavaScript. No build step.
"use strict";

// The queue: refresh #live from its data-src every data-every ms while the tab is visible.
function liveQueue() {
  const live = document.getElementById("live");
  if (!live) return;
  const every = Number(live.dataset.every) || 2000;
  let busy = false;
  setInterval(async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const answer = await fetch(live.dataset.src, { credentials: "same-origin", cache: "no-store" });
      if (answer.ok) live.innerHTML = await answer.text();
    } catch (e) { /* the next tick tries again */ }
    busy = false;
  }, every);
}

// A job that has not ended: its stage and percent change in place (the player keeps playing,
// the page keeps its scroll); the page reloads once the API says the state changed.
function watchJob() {
  const job = document.querySelector("article.job[data-watch]");
  if (!job) return;
  const before = job.dataset.state;
  const progress = document.getElementById("progress");
  setInterval(async () => {
    if (document.hidden) return;
    try {
      const answer = await fetch(job.dataset.watch, { credentials: "same-origin", cache: "no-store" });
      if (!answer.ok) return;
      const data = await answer.json();
      if (data.state !== before) { location.reload(); return; }
      if (progress && data.stage) progress.textContent = `${data.stage} ${Math.round(data.percent || 0)}%`;
    } catch (e) { /* try again */ }
  }, 2000);
}

// Lyrics in time: highlight the LRC line being sung and keep it in view.
function lyricsInTime() {
  const player = document.getElementById("player");
  const list = document.getElementById("lyrics");
  if (!player || !list) return;
  const lines = Array.from(list.querySelectorAll("li[data-t]"));
  const times = lines.map((li) => Number(li.dataset.t));
  let current = -1;
  const update = () => {
    const t = player.currentTime;
    let index = -1;
    for (let i = 0; i < times.length && times[i] <= t + 0.05; i++) index = i;
    if (index === current) return;
    if (current >= 0) lines[current].classList.remove("now");
    current = index;
    if (current >= 0) {
      lines[current].classList.add("now");
      lines[current].scrollIntoView({ block: "nearest" });
    }
  };
  player.addEventListener("timeupdate", update);
  player.addEventListener("seeked", update);
  lines.forEach((li, i) => li.addEventListener("click", () => { player.currentTime = times[i]; player.play(); }));
}

document.addEventListener("DOMContentLoaded", () => { liveQueue(); watchJob(); lyricsInTime(); });
