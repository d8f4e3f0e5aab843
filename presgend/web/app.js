"use strict";
// presgend's page: upload with progress, then poll the job until it ends. No build step,
// nothing fetched from elsewhere; the token (when the server asks for one) stays in this tab.
(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("upload"), file = $("file"), send = $("send"), drop = $("drop");
  const message = $("message"), jobs = $("jobs");
  let token = sessionStorage.getItem("presgend-token") || "";
  let pending = []; // what waits for a token

  const headers = () => (token ? { Authorization: "Bearer " + token } : {});
  const say = (text) => { message.textContent = text || ""; };

  function askToken(retry) {
    pending.push(retry);
    $("token").hidden = false;
    $("token-value").focus();
    say("This server needs an access token.");
  }
  $("token-save").addEventListener("click", () => {
    token = $("token-value").value.trim();
    sessionStorage.setItem("presgend-token", token);
    $("token").hidden = true;
    say("");
    const waiting = pending;
    pending = [];
    waiting.forEach((retry) => retry());
  });

  file.addEventListener("change", () => { send.disabled = !file.files.length; });
  ["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (e) => {
    e.preventDefault(); drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((type) => drop.addEventListener(type, (e) => {
    e.preventDefault(); drop.classList.remove("over");
  }));
  drop.addEventListener("drop", (e) => {
    if (e.dataTransfer.files.length) { file.files = e.dataTransfer.files; send.disabled = false; }
  });

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!file.files.length) return;
    const data = new FormData();
    data.append("file", file.files[0]);
    if ($("transcript").files.length) data.append("transcript", $("transcript").files[0]);
    if ($("deck").files.length) data.append("deck", $("deck").files[0]);
    if ($("picture").files.length) data.append("picture", $("picture").files[0]);
    const name = file.files[0].name;
    send.disabled = true;
    form.reset();
    upload(data, name);
  });

  function upload(data, name) {
    const card = newCard(name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/jobs");
    Object.entries(headers()).forEach(([k, v]) => xhr.setRequestHeader(k, v));
    xhr.upload.addEventListener("progress", (ev) => {
      if (ev.lengthComputable) show(card, { phase: "uploading", progress: ev.loaded / ev.total * 0.1 });
    });
    xhr.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
      if (xhr.status === 401) { card.remove(); askToken(() => upload(data, name)); return; }
      if (xhr.status !== 202) { fail(card, body.error || "The upload failed (" + xhr.status + ")."); return; }
      card.dataset.job = body.job_id;
      poll(card, body.status_url);
    });
    xhr.addEventListener("error", () => fail(card, "The upload could not reach the server."));
    xhr.send(data);
  }

  function newCard(name) {
    const card = $("job-template").content.firstElementChild.cloneNode(true);
    card.querySelector(".name").textContent = name;
    jobs.prepend(card);
    show(card, { phase: "uploading", progress: 0 });
    return card;
  }

  function show(card, job) {
    card.querySelector("progress").value = job.progress || 0;
    const pct = Math.round((job.progress || 0) * 100);
    const words = { queued: "Waiting for a free worker", running: "Working", ok: "Finished", duplicate: "Already made",
      awaiting_review: "Waiting for your review" };
    const status = words[job.status] || "Uploading";
    card.querySelector(".phase").textContent = ["ok", "duplicate", "awaiting_review"].includes(job.status)
      ? status : status + " · " + job.phase + " · " + pct + "%";
  }

  // every call of the page and the editor goes through here: the token, JSON bodies
  async function api(method, url, body) {
    const options = { method, headers: headers() };
    if (body !== undefined) {
      options.body = JSON.stringify(body);
      options.headers["Content-Type"] = "application/json";
    }
    const response = await fetch(url, options);
    if (response.status === 401) {
      await new Promise((resolve) => askToken(resolve));
      return api(method, url, body);
    }
    return response;
  }

  function fail(card, text) {
    const error = card.querySelector(".error");
    error.textContent = text;
    error.hidden = false;
    card.classList.add("failed");
  }

  async function poll(card, url) {
    for (;;) {
      let job;
      try {
        const response = await fetch(url, { headers: headers() });
        if (response.status === 401) { askToken(() => poll(card, url)); return; }
        job = await response.json();
      } catch (err) {
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      show(card, job);
      if (job.status === "failed") { fail(card, job.error || "The job failed."); return; }
      if (job.status === "expired") { fail(card, job.message); return; }
      if (job.status === "ok" || job.status === "duplicate" || job.status === "awaiting_review") {
        done(card, job); return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  function done(card, job) {
    const draft = job.status === "awaiting_review";
    const links = (draft ? job.draft : job.links) || {};
    const result = card.querySelector(".result");
    const preview = card.querySelector(".preview");
    if (links.preview && preview) preview.src = links.preview;
    else if (preview) preview.remove();
    const player = card.querySelector(".player");
    if (links.video) player.src = links.video;
    else if (draft) player.hidden = true;
    const edit = card.querySelector(".edit");
    if (job.edit_url) {
      edit.textContent = draft ? "Review and approve" : "Edit slides, captions and framing";
      edit.onclick = () => {
        edit.disabled = true;
        card.appendChild(window.PresgendEditor.make(card, job, api));
      };
    } else edit.remove();
    card.querySelector(".version").textContent = job.version > 1 ? "Version " + job.version : "";
    if (links.vtt) {  // the captions on the page's player too
      const track = document.createElement("track");
      track.kind = "captions";
      track.label = "Captions";
      track.src = links.vtt;
      player.appendChild(track);
    }
    ["video", "srt", "vtt", "chapters_vtt", "pptx", "report"].forEach((kind) => {
      const a = card.querySelector("a." + kind);
      if (links[kind]) a.href = links[kind]; else a.remove();
    });
    if (job.message) card.querySelector(".phase").textContent = job.message;
    result.hidden = false;
    card.classList.add("done");
  }

  // a new version is out: the player and the links follow it
  window.PresgendEditor.rendered = (card, job) => {
    const links = job.links || {};
    const player = card.querySelector(".player");
    player.hidden = false;
    if (links.video) player.src = links.video;
    const preview = card.querySelector(".preview");
    if (preview && links.preview) preview.src = links.preview;
    ["video", "srt", "vtt", "chapters_vtt", "pptx", "report"].forEach((kind) => {
      const a = card.querySelector("a." + kind);
      if (a && links[kind]) a.href = links[kind];
    });
    show(card, job);
    card.querySelector(".version").textContent = "Version " + job.version;
  };

  // the jobs already there (finished ones can be edited after a reload)
  (async function recent() {
    const response = await api("GET", "/api/jobs?limit=10");
    if (!response.ok) return;
    const listed = (await response.json()).jobs || [];
    listed.reverse().forEach((job) => {
      const card = newCard(job.input || job.job_id);
      card.dataset.job = job.job_id;
      show(card, job);
      if (job.status === "failed") fail(card, job.error || "The job failed.");
      else if (["ok", "duplicate", "awaiting_review"].includes(job.status)) done(card, job);
      else poll(card, job.status_url);
    });
  })();
})();
