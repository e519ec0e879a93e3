#!/usr/bin/env bash
# Quick start, command 1: set everything up, start the local Intercom and Klaviyo stand-ins with seeded data,
# run `meltano run tap-intercom-events target-klaviyo`, and show what landed in the Klaviyo stand-in.
# Run it again: the stand-ins are still up; a few new replies, ticket changes and a new conversation are made in
# the Intercom stand-in, and the incremental run moves only those.
#   bash scripts/demo.sh          run (again)
#   bash scripts/demo.sh stop     stop the stand-ins (the next run starts from scratch)
set -euo pipefail
cd "$(dirname "$0")/.."

demo_dir=.meltano/demo
pid_file=$demo_dir/sandbox.pid
intercom_url=http://127.0.0.1:8701   # the `sandbox` environment in meltano.yml points here
klaviyo_url=http://127.0.0.1:8702
state_id=sandbox:tap-intercom-events-to-target-klaviyo

sandbox_running() { [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }  # something accepts connections there

if [ "${1:-}" = "stop" ]; then
  if sandbox_running; then kill "$(cat "$pid_file")"; echo "demo: stand-ins stopped"; else echo "demo: stand-ins were not running"; fi
  rm -f "$pid_file"
  exit 0
fi

if ! sandbox_running; then
  for port in 8701 8702; do
    if port_taken "$port"; then
      echo "demo: port $port on 127.0.0.1 is taken by another program; the stand-ins need 8701 and 8702 (meltano.yml's sandbox environment): stop that program and run again" >&2
      exit 1
    fi
  done
fi

bash scripts/bootstrap.sh
# shellcheck disable=SC1091
source .venv/bin/activate
bash scripts/install-plugins.sh
mkdir -p "$demo_dir" output

if sandbox_running; then
  echo "demo: the stand-ins are running; making changes in Intercom for an incremental run"
  python scripts/demo_changes.py "$intercom_url"
else
  echo "demo: starting the Intercom and Klaviyo stand-ins (seeded data, empty Klaviyo)"
  rm -f "$demo_dir/klaviyo.db" "$demo_dir/ready.json" output/dead-letters.jsonl
  meltano state clear --force "$state_id" >/dev/null 2>&1 || true
  nohup api-sandbox serve --intercom-port 8701 --klaviyo-port 8702 --ready-file "$demo_dir/ready.json" \
    --seed 7 --contacts 300 --conversations 600 --tickets 150 --klaviyo-db "$demo_dir/klaviyo.db" \
    >"$demo_dir/sandbox.log" 2>&1 &
  echo $! >"$pid_file"
  for _ in $(seq 1 300); do
    [ -s "$demo_dir/ready.json" ] && break
    if ! sandbox_running; then
      echo "demo: the stand-ins stopped at start: $(tail -n 1 "$demo_dir/sandbox.log") (all of it: $demo_dir/sandbox.log)" >&2
      exit 1
    fi
    sleep 0.1
  done
  [ -s "$demo_dir/ready.json" ] || { echo "demo: the stand-ins did not start in 30 s; see $demo_dir/sandbox.log" >&2; exit 1; }
fi

echo "demo: meltano run tap-intercom-events target-klaviyo"
# Each plugin's run report: this run's numbers (the dead-letter file keeps every run's letters).
export TAP_INTERCOM_EVENTS_REPORT_PATH="$PWD/output/tap-report.json"
export TARGET_KLAVIYO_REPORT_PATH="$PWD/output/target-report.json"
rm -f "$TAP_INTERCOM_EVENTS_REPORT_PATH" "$TARGET_KLAVIYO_REPORT_PATH"
status=0
meltano run tap-intercom-events target-klaviyo || status=$?

echo
api-sandbox report --klaviyo-url "$klaviyo_url"
echo
echo "This run, from the run reports (output/tap-report.json, output/target-report.json; dead letters with the"
echo "reason and the record: output/dead-letters.jsonl):"
python scripts/run_report_summary.py "$TAP_INTERCOM_EVENTS_REPORT_PATH" "$TARGET_KLAVIYO_REPORT_PATH"
[ "$status" -eq 0 ] || { echo "demo: meltano run exited with $status" >&2; exit "$status"; }
echo
echo "Run 'bash scripts/demo.sh' again for an incremental run; 'bash scripts/demo.sh stop' stops the stand-ins."
