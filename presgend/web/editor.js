"use strict";
// presgend's editor: a finished job's slides, bullets, captions, presenter crop and
// theme, changed in the page and rendered as a new version. Every change (typed or
// dragged) is an edit of one document, kept in this browser until it is rendered, so a
// reload loses nothing; leaving with unrendered edits asks first. No build step, nothing
// fetched from elsewhere.
window.PresgendEditor = (function () {
  const clock = (s) => {
    const t = Math.max(0, Number(s) || 0);
    const m = Math.floor(t / 60);
    return m + ":" + (t - m * 60).toFixed(1).padStart(4, "0");
  };
  const seconds = (text) => {  // "1:02.5", "62.5" or "1:02" → 62.5 (NaN when not a time)
    const parts = String(text).trim().split(":");
    if (parts.length > 2 || parts.some((p) => p === "" || isNaN(Number(p)))) return NaN;
    return parts.length === 2 ? Number(parts[0]) * 60 + Number(parts[1]) : Number(parts[0]);
  };
  const PANELS = { draft: [320, 360], fast: [480, 540], standard: [640, 720], high: [960, 1080] };
  const open = new Set();  // editors with unrendered edits, for the leaving question

  window.addEventListener("beforeunload", (e) => {
    if (open.size) { e.preventDefault(); e.returnValue = ""; }
  });

  function make(card, job, api) {
    const root = document.getElementById("editor-template").content.firstElementChild.cloneNode(true);
    const $ = (sel) => root.querySelector(sel);
    const key = "presgend-edit-" + job.job_id;
    const player = card.querySelector(".player");
    let doc = null;          // the edit document being changed
    let published = null;    // as rendered now (to tell what is unrendered)
    let selected = 0;        // the slide whose picture is shown
    let duration = 1;
    let frameSize = null;    // the recording as displayed: [w, h]

    const dirty = () => JSON.stringify(doc) !== JSON.stringify(published);
    function changed() {
      if (dirty()) { localStorage.setItem(key, JSON.stringify(doc)); open.add(key); }
      else { localStorage.removeItem(key); open.delete(key); }
      $(".render").textContent = dirty() ? "Render" : "Render again";
    }

    // -- the document ------------------------------------------------------------------
    async function load() {
      const response = await api("GET", "/api/jobs/" + job.job_id + "/edit");
      if (!response.ok) { $(".render-status").textContent = (await response.json()).error; return; }
      published = await response.json();
      const kept = localStorage.getItem(key);
      doc = kept ? JSON.parse(kept) : JSON.parse(JSON.stringify(published));
      $(".restored").hidden = !kept || JSON.stringify(doc) === JSON.stringify(published);
      duration = published.input.duration_s || 1;
      $(".theme").value = doc.theme === "dark" ? "dark" : "light";
      draw();
      changed();
      loadFrame(1.0);
    }

    function draw() {
      drawSlides();
      drawTimeline();
      drawCaptions();
      drawCrop();
      picture();
    }

    // -- slides and bullets --------------------------------------------------------------
    function drawSlides() {
      const list = $(".slides");
      list.textContent = "";
      doc.slides.forEach((slide, n) => list.appendChild(slideBox(slide, n)));
    }

    function timeField(input, get, set) {
      input.value = clock(get());
      input.addEventListener("change", () => {
        const t = seconds(input.value);
        if (isNaN(t)) { input.classList.add("bad"); return; }  // typed: kept once it is a time
        input.classList.remove("bad");
        set(Math.round(t * 1000) / 1000);
        changed(); drawTimeline();
        input.value = clock(get());
      });
    }

    function slideBox(slide, n) {
      const box = document.getElementById("slide-template").content.firstElementChild.cloneNode(true);
      box.querySelector("legend").textContent = "Slide " + (n + 1);
      box.dataset.index = n;
      const title = box.querySelector(".title");
      title.value = slide.title;
      title.addEventListener("input", () => { slide.title = title.value; changed(); select(n); });
      timeField(box.querySelector(".start"), () => slide.start_s, (t) => { slide.start_s = t; });
      box.querySelector(".now").addEventListener("click", () => {
        slide.start_s = round(player.currentTime || 0); changed(); draw();
      });
      const bullets = box.querySelector(".bullets");
      slide.bullets.forEach((bullet, k) => bullets.appendChild(bulletRow(slide, bullet, k, n)));
      box.querySelector(".add-bullet").addEventListener("click", () => {
        const last = slide.bullets.length ? slide.bullets[slide.bullets.length - 1].at_s : slide.start_s;
        slide.bullets.push({ text: "A new point", at_s: Math.max(last, round(player.currentTime || 0)) });
        changed(); draw(); select(n);
      });
      box.querySelector(".up").addEventListener("click", () => move(doc.slides, n, -1));
      box.querySelector(".down").addEventListener("click", () => move(doc.slides, n, 1));
      box.querySelector(".delete").addEventListener("click", () => {
        if (doc.slides.length > 1) { doc.slides.splice(n, 1); changed(); draw(); }
      });
      box.querySelector(".add-slide").addEventListener("click", () => {
        const next = n + 1 < doc.slides.length ? doc.slides[n + 1].start_s : duration;
        const at = round((slide.start_s + next) / 2);
        doc.slides.splice(n + 1, 0, { title: "A New Slide", start_s: at, bullets: [] });
        changed(); draw(); select(n + 1);
      });
      box.addEventListener("focusin", () => select(n));
      return box;
    }

    function bulletRow(slide, bullet, k, n) {
      const row = document.getElementById("bullet-template").content.firstElementChild.cloneNode(true);
      const text = row.querySelector(".text");
      text.value = bullet.text;
      const fit = () => { text.style.height = "auto"; text.style.height = text.scrollHeight + 2 + "px"; };
      text.addEventListener("keydown", (e) => { if (e.key === "Enter") e.preventDefault(); });  // one line of a slide
      text.addEventListener("input", () => {
        bullet.text = text.value.replace(/\s*\n\s*/g, " "); changed(); picture(); fit();
      });
      requestAnimationFrame(fit);  // its whole text shown, however long
      timeField(row.querySelector(".at"), () => bullet.at_s, (t) => { bullet.at_s = t; });
      row.querySelector(".now").addEventListener("click", () => {
        bullet.at_s = round(player.currentTime || 0); changed(); draw();
      });
      row.querySelector(".up").addEventListener("click", () => move(slide.bullets, k, -1, n));
      row.querySelector(".down").addEventListener("click", () => move(slide.bullets, k, 1, n));
      row.querySelector(".delete").addEventListener("click", () => {
        slide.bullets.splice(k, 1); changed(); draw(); select(n);
      });
      return row;
    }

    function move(list, k, by, n) {
      const to = k + by;
      if (to < 0 || to >= list.length) return;
      if (list === doc.slides) {  // slides keep their places in time: their words move
        const [a, b] = [list[k], list[to]];
        [a.title, b.title] = [b.title, a.title];
        [a.bullets, b.bullets] = [b.bullets, a.bullets];
      } else {
        const times = list.map((b) => b.at_s);
        [list[k], list[to]] = [list[to], list[k]];
        list.forEach((b, i) => { b.at_s = times[i]; });  // the words move, the times stay in order
      }
      changed(); draw(); select(n === undefined ? to : n);
    }

    const round = (t) => Math.round(t * 10) / 10;

    // -- the timeline: markers to drag, a click to seek ----------------------------------
    function drawTimeline() {
      const line = $(".timeline");
      line.querySelectorAll(".marker").forEach((m) => m.remove());
      doc.slides.forEach((slide, n) => {
        line.appendChild(marker("slide", slide.start_s, "Slide " + (n + 1) + ": " + slide.title,
          n === 0 ? null : (t) => {  // its bullets come along where they would be left before it
            slide.bullets.forEach((b) => { if (b.at_s < t || b.at_s === slide.start_s) b.at_s = Math.max(b.at_s, t); });
            slide.start_s = t;
          }, n));
        slide.bullets.forEach((bullet, k) => line.appendChild(marker("bullet", bullet.at_s,
          "Slide " + (n + 1) + ", bullet " + (k + 1), (t) => { bullet.at_s = t; }, n, k)));
      });
    }

    function marker(kind, at, label, set, n, k) {
      const m = document.createElement("span");
      m.className = "marker " + kind;
      m.title = label + " · " + clock(at);
      m.dataset.slide = n;
      if (k !== undefined) m.dataset.bullet = k;
      m.style.left = (100 * at / duration) + "%";
      if (!set) { m.classList.add("fixed"); return m; }
      m.addEventListener("pointerdown", (e) => {
        e.preventDefault(); e.stopPropagation();
        m.setPointerCapture(e.pointerId);
        const line = $(".timeline").getBoundingClientRect();
        const follow = (ev) => {
          const t = Math.min(duration - 0.1, Math.max(0, (ev.clientX - line.left) / line.width * duration));
          m.style.left = (100 * t / duration) + "%";
          m.dataset.at = t;
        };
        const drop = () => {
          m.removeEventListener("pointermove", follow);
          if (m.dataset.at !== undefined) {  // a drag is an edit like any other
            const t = round(Number(m.dataset.at));
            set(t);
            player.currentTime = t;  // hear what is said where it now appears
            changed(); draw(); select(n);
          }
        };
        m.addEventListener("pointermove", follow);
        m.addEventListener("pointerup", drop, { once: true });
      });
      return m;
    }

    $(".timeline").addEventListener("click", (e) => {
      const line = $(".timeline").getBoundingClientRect();
      player.currentTime = (e.clientX - line.left) / line.width * duration;
    });
    player.addEventListener("timeupdate", () => {
      $(".playhead").style.left = (100 * player.currentTime / duration) + "%";
    });

    // -- the slide as it will look ------------------------------------------------------
    let pictureTimer = null;
    function select(n) {
      selected = Math.max(0, Math.min(n, doc.slides.length - 1));
      root.querySelectorAll(".slide").forEach((box) => box.classList.toggle("selected", Number(box.dataset.index) === selected));
      picture();
    }
    function picture() {
      clearTimeout(pictureTimer);
      pictureTimer = setTimeout(async () => {
        const slide = doc.slides[selected];
        if (!slide) return;
        const response = await api("POST", "/api/jobs/" + job.job_id + "/slide",
          { slide, index: selected, total: doc.slides.length, theme: doc.theme });
        if (!response.ok) return;
        const img = $(".slide-picture");
        if (img.src) URL.revokeObjectURL(img.src);
        img.src = URL.createObjectURL(await response.blob());
      }, 250);
    }

    // -- captions ------------------------------------------------------------------------
    function drawCaptions() {
      const list = $(".captions");
      list.textContent = "";
      doc.captions.forEach((cue, k) => {
        const row = document.getElementById("caption-template").content.firstElementChild.cloneNode(true);
        timeField(row.querySelector(".from"), () => cue.start_s, (t) => { cue.start_s = t; });
        timeField(row.querySelector(".to"), () => cue.end_s, (t) => { cue.end_s = t; });
        const text = row.querySelector(".text");
        text.value = cue.text;
        text.addEventListener("input", () => { cue.text = text.value; changed(); });
        row.querySelector(".delete").addEventListener("click", () => { doc.captions.splice(k, 1); changed(); drawCaptions(); });
        list.appendChild(row);
      });
    }
    $(".add-caption").addEventListener("click", () => {
      const t = round(player.currentTime || 0);
      doc.captions.push({ start_s: t, end_s: Math.min(duration, t + 2), text: "A caption" });
      doc.captions.sort((a, b) => a.start_s - b.start_s);
      changed(); drawCaptions();
    });

    // -- the presenter's crop: a rectangle over a frame, moved and resized, aspect locked --
    function panel() { return PANELS[doc.quality] || PANELS.standard; }
    async function loadFrame(at) {
      const response = await api("GET", "/api/jobs/" + job.job_id + "/frame?t=" + at.toFixed(2));
      if (!response.ok) return;
      const img = $(".frame");
      img.onload = () => { frameSize = frameSize || [img.naturalWidth, img.naturalHeight]; drawCrop(); };
      img.src = URL.createObjectURL(await response.blob());
    }
    function drawCrop() {
      const box = $(".crop"), auto = doc.presenter.crop === null;
      $(".auto-crop").checked = auto;
      box.hidden = auto || !frameSize;
      if (box.hidden) return;
      const [x, y, w, h] = doc.presenter.crop;
      const scale = 100 / recordingWidth();
      box.style.left = x * scale + "%"; box.style.width = w * scale + "%";
      box.style.top = (y * 100 / recordingHeight()) + "%"; box.style.height = (h * 100 / recordingHeight()) + "%";
    }
    // the frame comes at most 1280 wide: its pixels are the recording's by this factor
    const recordingWidth = () => doc.input.width || frameSize[0];
    const recordingHeight = () => doc.input.height || recordingWidth() * frameSize[1] / frameSize[0];
    $(".auto-crop").addEventListener("change", () => {
      if ($(".auto-crop").checked) doc.presenter.crop = null;
      else {
        const [pw, ph] = panel();
        const h = Math.round(recordingHeight() * 0.8 / 2) * 2;
        const w = Math.round(h * pw / ph / 2) * 2;
        doc.presenter.crop = [Math.round((recordingWidth() - w) / 4) * 2, Math.round((recordingHeight() - h) / 4) * 2, w, h];
      }
      changed(); drawCrop();
    });
    $(".frame-now").addEventListener("click", () => loadFrame(player.currentTime || 1.0));
    $(".crop").addEventListener("pointerdown", (e) => {
      e.preventDefault();
      const box = $(".crop");
      box.setPointerCapture(e.pointerId);
      const area = $(".crop-area").getBoundingClientRect();
      const per = recordingWidth() / area.width;  // recording pixels per screen pixel
      const resize = e.target.classList.contains("grip");
      const start = [e.clientX, e.clientY, ...doc.presenter.crop];
      const [pw, ph] = panel();
      const W = recordingWidth(), H = recordingHeight();
      const follow = (ev) => {
        const dx = (ev.clientX - start[0]) * per, dy = (ev.clientY - start[1]) * per;
        let [, , x, y, w, h] = start;
        if (resize) {
          w = Math.max(64, Math.min(W - x, w + dx)); h = w * ph / pw;
          if (y + h > H) { h = H - y; w = h * pw / ph; }
        } else {
          x = Math.max(0, Math.min(W - w, x + dx)); y = Math.max(0, Math.min(H - h, y + dy));
        }
        doc.presenter.crop = [x, y, w, h].map((v) => Math.round(v / 2) * 2);
        drawCrop();
      };
      box.addEventListener("pointermove", follow);
      box.addEventListener("pointerup", () => { box.removeEventListener("pointermove", follow); changed(); }, { once: true });
    });
    $(".theme").addEventListener("change", () => { doc.theme = $(".theme").value; changed(); picture(); });

    // -- render --------------------------------------------------------------------------
    $(".render").addEventListener("click", async () => {
      const problems = $(".problems");
      problems.hidden = true; problems.textContent = "";
      $(".render").disabled = true;
      const held = job.status === "awaiting_review";
      const response = held
        ? await api("POST", "/api/jobs/" + job.job_id + "/approve", doc)
        : await api("PUT", "/api/jobs/" + job.job_id + "/edit", doc);
      const body = await response.json();
      if (response.status === 422) {
        (body.problems || [body.error]).forEach((p) => { const li = document.createElement("li"); li.textContent = p; problems.appendChild(li); });
        problems.hidden = false; $(".render").disabled = false;
        return;
      }
      if (!response.ok) { $(".render-status").textContent = body.error; $(".render").disabled = false; return; }
      $(".render-status").textContent = "Rendering version " + body.version + "…";
      await follow(body.status_url, body.version);
    });

    async function follow(url, version) {
      for (;;) {
        await new Promise((r) => setTimeout(r, 1000));
        const response = await api("GET", url);
        if (!response.ok) continue;
        const now = await response.json();
        if (now.status === "failed") { $(".render-status").textContent = now.error; $(".render").disabled = false; return; }
        if (now.status === "ok" && now.version >= version) {
          localStorage.removeItem(key); open.delete(key);
          job = Object.assign(job, now);
          root.dataset.version = now.version;
          $(".render-status").textContent = "Version " + now.version + " is out.";
          $(".render").disabled = false;
          window.PresgendEditor.rendered(card, now);
          published = null;
          await load();
          return;
        }
        $(".render-status").textContent = "Rendering version " + version + " · " + (now.phase || now.status) + " " + Math.round((now.progress || 0) * 100) + "%";
      }
    }

    $(".discard").addEventListener("click", () => {
      localStorage.removeItem(key); open.delete(key);
      doc = JSON.parse(JSON.stringify(published)); $(".restored").hidden = true; draw(); changed();
    });
    $(".close").addEventListener("click", () => {
      if (dirty() && !window.confirm("Close the editor? Your unrendered edits stay kept in this browser.")) return;
      root.remove(); card.querySelector(".edit").disabled = false;
    });

    load();
    return root;
  }

  return { make, clock, seconds, rendered: () => {} };
})();
