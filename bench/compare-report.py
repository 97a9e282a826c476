#!/usr/bin/env python3
"""Turns bench/compare.sh's results folder into the table in docs/benchmarks.md and the chart docs/benchmarks.png.

Usage: compare-report.py RESULTS_DIR BENCHMARKS_MD CHART_PNG "SERVERS" "PARAMETERS"
Only the part of BENCHMARKS_MD between the compare:begin / compare:end markers is replaced.
"""
import json
import os
import subprocess
import sys

BEGIN = "<!-- compare:begin (written by bench/compare.sh; edits here are overwritten) -->"
END = "<!-- compare:end -->"
NAMES = {"tendril": "Tendril", "prosody": "Prosody", "ejabberd": "ejabberd"}


def load(results, server, run):
    path = os.path.join(results, f"{server}-{run}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def read(results, name, default=""):
    path = os.path.join(results, name)
    return open(path).read().strip() if os.path.exists(path) else default


def idle_kib_per_session(doc):
    """(RSS at the end of the idle hold − RSS before the first login) / sessions, in KiB."""
    proc, res = doc.get("serverProcess"), doc["results"]
    if not proc or res["loginsOk"] == 0:
        return None
    held = [t["serverRssKiB"] for t in doc["timeline"] if t["phase"] == doc["parameters"]["scenario"]]
    end = held[-1] if held else proc["rssConnectedKiB"]
    return (end - proc["rssStartKiB"]) / res["loginsOk"]


def loadavg(results, server, run):
    lines = read(results, f"{server}-{run}.load").splitlines()
    return f"{lines[0]}→{lines[1]}" if len(lines) >= 2 else "—"


def fmt(v, digits=1):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def main():
    results, md_path, png_path, servers, parameters = sys.argv[1:6]
    servers = servers.split()
    date, machine, nofile = read(results, "date"), read(results, "machine"), read(results, "nofile")
    rows = {}
    commands = []
    for s in servers:
        idle, logins = load(results, s, "idle"), load(results, s, "logins")
        cmax, cfix = load(results, s, "chat-max"), load(results, s, "chat-fixed")
        r = {"version": read(results, f"{s}.version", s)}
        if idle:
            r["idle_ok"] = idle["results"]["loginsOk"]
            r["idle_failed"] = idle["results"]["loginsFailed"]
            r["idle_lost"] = idle["results"]["connectionsLost"]
            r["kib"] = idle_kib_per_session(idle)
            held = [t["serverRssKiB"] for t in idle["timeline"] if t["phase"] == "idle"]
            r["rss_mib"] = held[-1] / 1024 if held else None
            r["idle_cpu"] = idle["serverProcess"]["cpuSecondsScenario"] if idle.get("serverProcess") else None
        if logins:
            lr = logins["results"]
            r["logins"] = lr["loginsPerSecond"]
            r["login_p99"] = lr["loginLatencyMs"]["p99"]
            r["login_failed"] = lr["loginsFailed"]
            cpu = logins["serverProcess"]["cpuSecondsConnect"] if logins.get("serverProcess") else None
            r["ms_per_login"] = 1000 * cpu / lr["loginsOk"] if cpu is not None and lr["loginsOk"] else None
        if cmax:
            cr = cmax["results"]
            r["max_rate"] = cr["deliveredPerSecond"]
            r["max_p99"] = cr["endToEndLatencyMs"]["p99"]
            cpu = cmax["serverProcess"]["cpuSecondsScenario"] if cmax.get("serverProcess") else None
            r["us_per_msg"] = 1e6 * cpu / cr["delivered"] if cpu is not None and cr["delivered"] else None
            r["max_missing"] = cr["missingAfterDrain"]
        if cfix:
            fr = cfix["results"]
            r["fix_rate"] = fr["deliveredPerSecond"]
            r["fix_p50"] = fr["endToEndLatencyMs"]["p50"]
            r["fix_p99"] = fr["endToEndLatencyMs"]["p99"]
            r["fix_p999"] = fr["endToEndLatencyMs"]["p99.9"]
            r["fix_missing"] = fr["missingAfterDrain"]
        rows[s] = r
        for run, doc in (("idle", idle), ("logins", logins), ("chat-max", cmax), ("chat-fixed", cfix)):
            if doc:
                cmd = doc["commandLine"].replace(results + "/", "")
                commands.append(f"- {NAMES[s]}, {run}: `{cmd}`")

    def line(label, key, digits=1):
        return f"| {label} | " + " | ".join(fmt(rows[s].get(key), digits) for s in servers) + " |"

    out = [BEGIN, "", f"**Run of {date}** on {machine}; `ulimit -n` = {nofile}. Parameters: `{parameters}`.", ""]
    out.append("| | " + " | ".join(NAMES[s] for s in servers) + " |")
    out.append("|---|" + "---:|" * len(servers))
    out.append("| version | " + " | ".join(rows[s]["version"] for s in servers) + " |")
    out.append("| idle: sessions ok / failed / lost | " + " | ".join(
                   f"{rows[s].get('idle_ok', '—')} / {rows[s].get('idle_failed', '—')} / {rows[s].get('idle_lost', '—')}" for s in servers) + " |")
    out.append(line("idle: **server RSS per TLS session, KiB**", "kib"))
    out.append(line("idle: server RSS with all sessions, MiB", "rss_mib"))
    out.append(line("idle: server CPU s during the hold", "idle_cpu", 2))
    out.append(line("logins: **TLS+SCRAM-SHA-1 logins/s** (tool and server share the 2 cores)", "logins"))
    out.append(line("logins: login latency p99, ms", "login_p99"))
    out.append(line("logins: server CPU ms per login", "ms_per_login", 2))
    out.append(line("chat, max rate: **delivered msgs/s**", "max_rate", 0))
    out.append(line("chat, max rate: e2e p99, ms", "max_p99", 2))
    out.append(line("chat, max rate: server CPU µs per message", "us_per_msg", 1))
    out.append(line("chat, fixed load: delivered msgs/s", "fix_rate", 0))
    out.append(line("chat, fixed load: e2e p50, ms", "fix_p50", 2))
    out.append(line("chat, fixed load: **e2e p99, ms**", "fix_p99", 2))
    out.append(line("chat, fixed load: e2e p99.9, ms", "fix_p999", 2))
    out.append("| chat: missing after drain (max / fixed) | " + " | ".join(
                   f"{rows[s].get('max_missing', '—')} / {rows[s].get('fix_missing', '—')}" for s in servers) + " |")
    out.append("| 1-min load average before → after (idle, logins, chat max, chat fixed) | " + " | ".join(
        ", ".join(loadavg(results, s, run) for run in ("idle", "logins", "chat-max", "chat-fixed")) for s in servers) + " |")
    others = sorted({l for s in servers for run in ("idle", "logins", "chat-max", "chat-fixed")
                     for l in read(results, f"{s}-{run}.load").splitlines()[2:]})
    out += ["", "Other processes above 20 % CPU at the end of a run (not part of the benchmark): " +
            ("; ".join(f"`{o.strip()}`" for o in others[:6]) if others else "none") + "."]
    for name in sorted(os.listdir(results)):
        if name.startswith("tendril-idle-") and name.endswith(".json"):
            doc = json.load(open(os.path.join(results, name)))
            r = doc["results"]
            kib = idle_kib_per_session(doc)
            out += ["", f"Tendril alone, {doc['parameters']['users']:,} idle TLS sessions over several loopback source addresses: "
                    f"{r['loginsOk']:,} ok / {r['loginsFailed']:,} failed, {r['connectionsLost']} lost, "
                    f"{fmt(kib)} KiB per session, {r['loginsPerSecond']} logins/s. Command: `{doc['commandLine'].replace(results + '/', '')}`"]
    out += ["", f"![side by side](benchmarks.png)", "", "Commands (the script's `load` runs; `--pid` is the server under test):", ""]
    out += commands
    out += ["", END]

    chart(rows, servers, png_path, date)

    text = open(md_path).read() if os.path.exists(md_path) else "# Benchmarks\n\n" + BEGIN + "\n" + END + "\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + "\n".join(out) + tail
    else:
        text = text.rstrip() + "\n\n" + "\n".join(out) + "\n"
    with open(md_path, "w") as f:
        f.write(text)


def chart(rows, servers, png_path, date):
    panels = [("RSS per idle TLS session (KiB, lower is better)", "kib"),
              ("chat: delivered msgs/s at max rate (higher is better)", "max_rate"),
              ("chat: e2e p99 at fixed load (ms, lower is better)", "fix_p99"),
              ("TLS+SCRAM-SHA-1 logins/s (higher is better)", "logins")]
    data = os.path.splitext(png_path)[0] + ".dat"
    with open(data, "w") as f:  # one block per panel (gnuplot 'index'), x = 0..n-1 in each
        for _, key in panels:
            for s in servers:
                f.write(f"{NAMES[s]} {rows[s].get(key) or 0}\n")
            f.write("\n\n")
    script = ["set terminal pngcairo size 1200,800 font 'sans,10'", f"set output '{png_path}'",
              f"set multiplot layout 2,2 title 'Tendril, Prosody, ejabberd on the same 2-core machine (loopback), {date}'",
              "set style fill solid 0.8 border -1", "set boxwidth 0.6", "set yrange [0:*]", "set offsets 0.5,0.5,0,0",
              "unset key", "set grid ytics"]
    for i, (title, _) in enumerate(panels):
        script.append(f"set title '{title}'")
        script.append(f"plot '{data}' index {i} using 0:2:xtic(1) with boxes lc rgb '#4472c4', "
                      f"'' index {i} using 0:2:(sprintf('%.5g', $2)) with labels offset 0,0.8")
    script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)
    os.remove(data)


if __name__ == "__main__":
    main()
