#!/usr/bin/env bash
# Shows the main job on a fresh machine: starts a local PostgreSQL (installing it if needed),
# creates a demo table, streams its live changes to stdout as JSON lines while a workload runs,
# then stops the stream with SIGINT (flush, confirm, exit 0).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/pg.sh start >&2
eval "$(bash scripts/pg.sh env)"
PSQL=("$PG_TO_BROKERS_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$PG_TO_BROKERS_TEST_URL")

"${PSQL[@]}" -o /dev/null <<'SQL'
drop table if exists demo_orders;
create table demo_orders (id bigserial primary key, customer text not null, amount numeric(10,2), items jsonb, created_at timestamptz default now());
drop publication if exists demo;
select pg_drop_replication_slot('demo') from pg_replication_slots where slot_name = 'demo';
-- The demo starts from scratch each time: forget its slot's record too, or the tool would report the slot as lost.
do $$ begin
  if to_regclass('public.pg_to_brokers_slots') is not null then delete from public.pg_to_brokers_slots where slot_name = 'demo'; end if;
end $$;
SQL

echo "--- streaming changes of public.demo_orders to stdout (Ctrl-C stops) ---" >&2
LOG=$(mktemp)
PG_TO_BROKERS_POSTGRES_URL="$PG_TO_BROKERS_TEST_URL" node bin/pg-to-brokers.mjs run \
  --slot demo --publication demo --tables demo_orders --drop-slot-on-exit --max-batch-latency-ms 20 2> >(tee "$LOG" >&2) &
STREAMER=$!
trap 'kill -INT $STREAMER 2>/dev/null || true' EXIT

# Wait until the tool logs that it is streaming (its slot exists by then), then change some rows.
for _ in $(seq 1 300); do
  grep -q ' info streaming ' "$LOG" && break
  kill -0 $STREAMER 2>/dev/null || break
  sleep 0.1
done
"${PSQL[@]}" <<'SQL'
insert into demo_orders (customer, amount, items) values ('Ada', 12.50, '{"sku": ["A-1"]}'), ('Grace', 99.99, '{"sku": ["B-2", "C-3"]}');
update demo_orders set amount = amount + 1 where customer = 'Ada';
begin;
insert into demo_orders (customer, amount) values ('Linus', 7);
delete from demo_orders where customer = 'Grace';
commit;
SQL
# Stop once the slot is confirmed past the last change, i.e. every change was printed (the insert
# position: with synchronous_commit off, as in the project cluster, the write position lags behind).
last=$("${PSQL[@]}" -tAc "select pg_current_wal_insert_lsn()")
for _ in $(seq 1 300); do
  printed=$("${PSQL[@]}" -tAc "select coalesce(confirmed_flush_lsn >= '$last', false) from pg_replication_slots where slot_name = 'demo'")
  [ "$printed" = t ] && break
  kill -0 $STREAMER 2>/dev/null || break
  sleep 0.1
done
kill -INT $STREAMER
wait $STREAMER
trap - EXIT
rm -f "$LOG"
echo "--- stopped cleanly (exit 0); the slot was confirmed up to the last change and dropped ---" >&2
