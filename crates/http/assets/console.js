// The interaction page's player: a waveform over the page's <audio> element (which
// streams the recording with range requests and works without this script), transcript
// lines highlighted in step with playback, and a click on a line seeks there.
"use strict";
(function () {
  const audio = document.getElementById("player");
  if (!audio) return;
  const lines = Array.from(document.querySelectorAll("[data-start-ms]"));
  for (const line of lines) {
    line.addEventListener("click", function () {
      audio.currentTime = Number(line.dataset.startMs) / 1000;
      audio.play().catch(function () {});
    });
  }
  let current = null;
  function follow() {
    const ms = audio.currentTime * 1000;
    let now = null;
    for (const line of lines) {
      if (Number(line.dataset.startMs) <= ms) now = line;
      else break;
    }
    if (now === current) return;
    if (current) {
      current.classList.remove("current");
      current.removeAttribute("aria-current");
    }
    if (now) {
      now.classList.add("current");
      now.setAttribute("aria-current", "true");
    }
    current = now;
  }
  audio.addEventListener("timeupdate", follow);
  audio.addEventListener("seeked", follow);

  // The waveform comes from the server's precomputed peaks, so the browser never
  // downloads the whole recording to draw it; playback does not wait for it.
  const wave = document.getElementById("waveform");
  if (!wave || !window.WaveSurfer) return;
  fetch(wave.dataset.peaks, { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (p) {
      if (!p || !p.peaks.length) return;
      window.WaveSurfer.create({
        container: wave,
        media: audio,
        peaks: [p.peaks],
        duration: p.durationMs / 1000,
        height: 64,
        waveColor: "#8a98ad",
        progressColor: "#1d4f91",
        cursorColor: "#111827",
        barWidth: 2,
        barGap: 1,
        normalize: true,
      });
      wave.classList.add("ready");
    })
    .catch(function () {});
})();
