#!/usr/bin/python3
"""ctest "browser_dashboard": the dashboard in a real browser (Debian's chromium +
chromium-driver, driven by python3-selenium, headless) against a running evald with
two workers:

- the page loads with no console error and no request leaving the server's origin;
- the figures change over three seconds (a new snapshot every second);
- "Launch" starts a trial division from the page: every worker's compute share rises
  above one half in the same snapshot, the job's progress reaches done, and the
  compute shares fall back below one half;
- the Try-it pane follows a job launched elsewhere (by HTTP, not from the page), and a
  worker's card counts the evaluations it computes a share of;
- at 1400x900 and 1920x1080 the two columns end within a third of the window of each
  other (no empty half of the page), with a screenshot of each;
- a screenshot PNG is written (SCREENSHOT_PATH, and -1920.png beside it).
Exit 77 (skipped) with the reason only when Chromium cannot run here.
Usage: dashboard_test.py EVALD_BINARY SCREENSHOT_PATH"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

binary, screenshot = sys.argv[1], sys.argv[2]
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:
    print("SKIPPED: python3-selenium is not installed (scripts/setup.sh installs it)")
    sys.exit(77)
for tool in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
    if not os.path.exists(tool):
        print(f"SKIPPED: {tool} is missing (scripts/setup.sh installs chromium and chromium-driver)")
        sys.exit(77)

failures = []


def check(name, ok, detail=""):
    print(("PASS: " if ok else "FAIL: ") + name + (f" ({detail})" if detail else ""))
    if not ok:
        failures.append(name)


def start_evald(config):
    # The job launched elsewhere loops until the test cancels it: with the default 30 s
    # cap on an evaluation it could expire first on a loaded machine (the page polls
    # slowly while both workers compute), and the DELETE would then remove it, leaving
    # the page's next poll a 404 that Chromium logs as a console error.
    with open(config, "w") as f:
        json.dump({"limits": {"max_eval_time": "600s"}}, f)
    p = subprocess.Popen([binary, "--config", config, "--listen", "127.0.0.1:0", "--threads", "2",
                          "--log-level", "warn"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for line in p.stdout:
        if b"listening" in line:
            return p, int(line.split(b":")[-1])
    raise SystemExit("evald did not start")


def trial_seconds(port, n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t = time.perf_counter()
    c.request("GET", f"/prime?n={n}&method=trial")
    c.getresponse().read()
    return time.perf_counter() - t


def renice_tree(root, niceness=19):
    """The browser and its driver at the lowest priority: on a machine with as many
    cores as workers they would otherwise take CPU the workers' shares measure."""
    children = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            ppid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(pid))
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            os.setpriority(os.PRIO_PROCESS, pid, niceness)
        except OSError:
            pass
        todo.extend(children.get(pid, []))


def until(pred, limit, every=0.1):
    """Polls `pred` (observing the page, not timing it) up to `limit` s."""
    give_up = time.monotonic() + limit
    while time.monotonic() < give_up:
        v = pred()
        if v:
            return v
        time.sleep(every)
    return pred()


def main():
    profile = tempfile.mkdtemp(prefix="evald-chromium.")
    evald, port = start_evald(os.path.join(profile, "evald.json"))
    origin = f"http://127.0.0.1:{port}"
    driver = None
    try:
        # A prime whose trial division keeps both workers busy for a few seconds in
        # this build: 2^64-59, or 1.0e17+151 on a slow (unoptimised) build.
        small = trial_seconds(port, "100109100129100151")
        n = "18446744073709551557" if small * 13.6 < 8 else "100109100129100151"
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage", "--window-size=1400,900",
                  f"--user-data-dir={profile}"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        try:
            driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        except Exception as e:  # the browser cannot start on this machine
            print(f"SKIPPED: Chromium cannot run here: {str(e).splitlines()[0]}")
            sys.exit(77)
        os.nice(10)
        driver.set_page_load_timeout(30)
        driver.get(origin + "/")
        check("the page's title", driver.title == "evald", driver.title)
        renice_tree(driver.service.process.pid)  # every browser process exists by now
        until(lambda: driver.find_elements(By.CSS_SELECTOR, ".worker"), 10)
        workers = driver.find_elements(By.CSS_SELECTOR, ".worker")
        check("one card per worker", len(workers) == 2, f"{len(workers)} cards")
        check("the stream is live", until(lambda: driver.find_element(By.ID, "status").text == "live", 10))

        seen = set()
        t_end = time.monotonic() + 3.2
        while time.monotonic() < t_end:
            seen.add(driver.find_element(By.ID, "updated").get_attribute("data-time"))
            time.sleep(0.1)
        check("the figures change over three seconds", len(seen - {"0"}) >= 3, f"{len(seen)} snapshots seen")

        def shares():
            return [float(w.get_attribute("data-compute") or 0)
                    for w in driver.find_elements(By.CSS_SELECTOR, ".worker")]

        driver.find_element(By.ID, "launch-n").clear()
        driver.find_element(By.ID, "launch-n").send_keys(n)
        driver.find_element(By.ID, "launch").click()
        # Polled gently: the browser shares this machine's cores with the workers.
        peak = until(lambda: (lambda s: s if len(s) == 2 and min(s) > 0.5 else None)(shares()), 60,
                     every=0.3)
        check("every worker's compute share above one half at once", bool(peak), f"{peak or shares()}")
        # The picture: late in the job, with the rise in the history.
        until(lambda: float(driver.find_element(By.ID, "job-progress").get_attribute("value")) >= 0.7,
              60, every=0.3)
        driver.save_screenshot(screenshot)
        status = until(lambda: driver.find_element(By.ID, "job-status").get_attribute("data-status")
                       in ("done", "failed", "cancelled", "expired")
                       and driver.find_element(By.ID, "job-status").get_attribute("data-status"), 120)
        check("the job's progress reaches done", status == "done", f"{status}")
        progress = driver.find_element(By.ID, "job-progress").get_attribute("value")
        check("the progress bar is full", float(progress) == 1.0, progress)
        result = json.loads(driver.find_element(By.ID, "result").text)
        check("the job's result is the page's answer", result.get("result", {}).get("prime") is True,
              driver.find_element(By.ID, "result").text[:200])
        low = until(lambda: (lambda s: s if max(s) < 0.5 else None)(shares()), 10)
        check("the compute shares fall back below one half", bool(low), f"{low or shares()}")

        # A job launched elsewhere (not from the page): the pane follows it, and the
        # workers computing its shares count it. A script map whose inputs loop until the
        # job is cancelled, so it is still running whenever the page looks (a trial
        # division could end between two snapshots on a fast machine).
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("POST", "/eval-launch", json.dumps({"workload": "script",
                                                      "source": "while true do end",
                                                      "inputs": list(range(1000)),
                                                      "timeout_ms": 300000}),
                  {"Content-Type": "application/json"})
        other = json.loads(c.getresponse().read())["id"]
        c.close()
        followed = until(lambda: other[:8] in driver.find_element(By.ID, "job-status").text, 20, every=0.3)
        check("the Try-it pane follows a job launched elsewhere", bool(followed),
              driver.find_element(By.ID, "job-status").text)
        counted = until(lambda: all(int(w.find_element(By.CSS_SELECTOR, ".evals").text or 0) >= 1
                                    for w in driver.find_elements(By.CSS_SELECTOR, ".worker")), 20,
                        every=0.3)
        check("every worker computing a share counts the evaluation", bool(counted),
              [w.find_element(By.CSS_SELECTOR, ".evals").text
               for w in driver.find_elements(By.CSS_SELECTOR, ".worker")])
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("DELETE", "/jobs/" + other)
        gone = json.loads(c.getresponse().read())
        check("the job launched elsewhere was running until its DELETE", gone.get("status") == "cancelled",
              gone.get("status"))
        c.close()

        def column_bottoms():
            return driver.execute_script("""
              const cols = document.querySelectorAll('main > div');
              return Array.from(cols).map((c) => c.getBoundingClientRect().bottom);""")
        for width, height, path in ((1400, 900, screenshot),
                                    (1920, 1080, screenshot.replace(".png", "-1920.png"))):
            driver.set_window_size(width, height)
            inner = driver.execute_script("return window.innerHeight")
            until(lambda: len(column_bottoms()) == 2, 5)
            bottoms = column_bottoms()
            check(f"at {width}x{height} both columns end within a third of the window",
                  len(bottoms) == 2 and abs(bottoms[0] - bottoms[1]) < inner / 3,
                  f"column bottoms {bottoms}, window {inner}")
            if path != screenshot:
                driver.save_screenshot(path)
                check(f"a {width}x{height} screenshot was written", os.path.getsize(path) > 10000, path)

        severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        check("no console error", not severe, "; ".join(e["message"][:160] for e in severe))
        urls = []
        for entry in driver.get_log("performance"):
            m = json.loads(entry["message"])["message"]
            # Requests made for our page (not the browser's own start-up pages).
            if m.get("method") == "Network.requestWillBeSent" and \
                    m["params"].get("documentURL", "").startswith(origin + "/"):
                urls.append(m["params"]["request"]["url"])
        foreign = [u for u in urls if not (u.startswith(origin + "/") or u.startswith("data:"))]
        check("no request leaves the server's origin", urls and not foreign,
              f"{len(urls)} requests; foreign: {foreign[:3]}")
        check("a screenshot PNG was written", os.path.getsize(screenshot) > 10000 and
              open(screenshot, "rb").read(8) == b"\x89PNG\r\n\x1a\n", screenshot)
    finally:
        if driver is not None:
            driver.quit()
        evald.terminate()
        evald.wait(timeout=20)
        shutil.rmtree(profile, ignore_errors=True)
    print(f"{'0 failed' if not failures else str(len(failures)) + ' failed'}")
    sys.exit(1 if failures else 0)


main()
