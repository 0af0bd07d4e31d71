/** @module The text `pg-to-brokers --help` prints; each writer's flags come from its descriptor in the writer registry. */
import { isSwitch, type WriterDescriptor, type WriterSetting } from '../writers/descriptor.ts'
import { WRITERS } from '../writers/registry.ts'

const INTRO = `pg-to-brokers: stream every committed PostgreSQL change, in commit order, to a broker
(JSON lines on stdout, a file, Kafka, Kinesis, or your own writer module), using logical replication (pgoutput).

Usage:
  pg-to-brokers run [flags]    start streaming (the default command when flags are given)
  pg-to-brokers snapshot --tables <t1,t2> [--where <sql>] [flags]
                               ask the instance streaming from the slot to read these tables
                               again (an incremental snapshot, while it keeps streaming); prints
                               each request's id; --cancel --tables <t1,t2> cancels them
                               (without --tables: every snapshot of the slot)
  pg-to-brokers status [--json] [flags]
                               show the slot (active, wal_status, retained WAL, lag), its
                               publication and snapshots in progress; exit 0 when the slot exists,
                               is not lost and has no problem, 1 otherwise
  pg-to-brokers help           show this help (also --help or -h; the default with no arguments)
  pg-to-brokers version        print the version (also --version)

Example:
  pg-to-brokers run --postgres-url postgres://user@127.0.0.1:5432/app --slot app_cdc --publication app_cdc

  Prints each change as one JSON line on stdout. A password goes in the URL
  (postgres://USER:PASSWORD@HOST:5432/DATABASE); pass such a URL in PG_TO_BROKERS_POSTGRES_URL
  rather than with --postgres-url, so it does not show up in the process list.

The database needs:
  - wal_level = logical in postgresql.conf (changing it needs a server restart);
  - a role with the REPLICATION attribute (ALTER ROLE name REPLICATION) that can read the tables.
  By default the slot and the publication are created when missing. Creating a publication for
  all tables needs a superuser; otherwise create it yourself and pass --no-create-publication.

Delivery:
  PostgreSQL keeps changes in the replication slot until they are acknowledged, and the slot only
  advances after the writer has durably delivered them. Nothing committed is skipped; after a crash,
  changes after the last acknowledged position are sent again. A slot nobody reads keeps WAL on the
  server's disk: drop it when you stop using it (--drop-slot-on-exit, or pg_drop_replication_slot).

Stopping:
  On SIGINT (Ctrl-C) or SIGTERM: stop reading from PostgreSQL, flush what is in flight to the
  writer, acknowledge what was written, and exit with status 0.

Flags (each also accepts --flag=value; settings come from the config file, then environment
variables, then flags, each overriding the one before; empty environment variables are ignored):

  --config <file>               JSON config file with the settings below (see "Config file");
                                no env variable
  --postgres-url <url>          connection URL, postgres:// or postgresql://, or libpq key=value
                                settings (required), read as libpq reads it: PGHOST, PGPORT, PGUSER,
                                PGPASSWORD, PGDATABASE, PGSSLMODE, … fill what it leaves out, and
                                sslmode defaults to prefer; for a unix socket:
                                postgres:///DATABASE?host=/var/run/postgresql
                                env PG_TO_BROKERS_POSTGRES_URL, else DATABASE_URL
  --slot <name>                 replication slot: 1-63 lower-case letters, digits or underscores
                                env PG_TO_BROKERS_SLOT; default pg_to_brokers
  --publication <name>          publication to read (1-63 bytes)
                                env PG_TO_BROKERS_PUBLICATION; default pg_to_brokers
  --tables <t1,t2>              tables to publish, as table or schema.table (double-quote names
                                with capitals or spaces: "My Schema"."My Table")
                                env PG_TO_BROKERS_TABLES; default: all tables
  --create-slot, --no-create-slot
                                create the slot at a first start, when it does not exist and was
                                never streamed from (a reconnect never creates one); no env
                                variable; default: create
  --accept-data-loss, --no-accept-data-loss
                                create a new slot over a lost one (recorded in the state table but
                                gone: dropped, invalidated, or absent after a failover), skipping
                                the changes in between; use once, after a re-snapshot; no env
                                variable; default: fail and name the gap
  --state-table <schema.table>  table recording the slots this tool streams from, created if
                                missing; env PG_TO_BROKERS_STATE_TABLE;
                                default public.pg_to_brokers_slots
  --message-prefixes <p1,p2|*>  deliver logical messages (pg_logical_emit_message) with these
                                prefixes as records, * for all (PostgreSQL >= 14);
                                env PG_TO_BROKERS_MESSAGE_PREFIXES; default: none
  --create-publication, --no-create-publication
                                create the publication if it does not exist; no env variable;
                                default: create
  --drop-slot-on-exit, --no-drop-slot-on-exit
                                drop the slot when stopping (changes made while stopped are then
                                never sent); env PG_TO_BROKERS_DROP_SLOT_ON_EXIT (true/false/1/0);
                                default false
  --standby, --no-standby       when another process streams from the slot, wait (polling every
                                second) and take over when it stops, instead of failing;
                                env PG_TO_BROKERS_STANDBY (true/false/1/0); default false`

const OUTRO = `  --batch-size <n>              most changes per batch handed to the writer, 1-100000
                                env PG_TO_BROKERS_BATCH_SIZE; default 1000
  --max-batch-latency-ms <n>    longest a change waits for its batch to fill, 0-600000
                                env PG_TO_BROKERS_MAX_BATCH_LATENCY_MS; default 50
  --batch-queue-depth <n>       most full batches waiting for the writer, 1-1024 (reading pauses
                                while they wait); env PG_TO_BROKERS_BATCH_QUEUE_DEPTH; default 8
  --snapshot-mode <mode>        initial snapshot: never, initial (the tables, then the stream),
                                initial_only (the tables, then stop) or when_needed (when there
                                is no slot yet, or it was lost); env PG_TO_BROKERS_SNAPSHOT_MODE;
                                default never
  --snapshot-chunk-size <n>     rows read per chunk, 1-1000000;
                                env PG_TO_BROKERS_SNAPSHOT_CHUNK_SIZE; default 4096
  --snapshot-parallel-tables <n>
                                tables read at the same time, 1-16;
                                env PG_TO_BROKERS_SNAPSHOT_PARALLEL_TABLES; default 1
  --snapshot-tables <t1,t2>     tables of the initial snapshot; env PG_TO_BROKERS_SNAPSHOT_TABLES;
                                default: --tables, or every table of the publication
  --snapshot-progress <auto|bar|lines|off>
                                progress on stderr: a bar redrawn in place, or a log line every
                                10 s and per table; auto: a bar on a terminal, else lines;
                                env PG_TO_BROKERS_SNAPSHOT_PROGRESS; default auto
  --where <sql>                 snapshot command: read only rows matching this condition
  --cancel                      snapshot command: cancel the requested and running snapshots
  --json                        status command: print one JSON object instead of the table
  --lag-warn-bytes <n>          warn when the slot holds more than n bytes of WAL on the server
                                (its retained WAL; once per crossing; status exits 1 above it);
                                env PG_TO_BROKERS_LAG_WARN_BYTES; default 1073741824 (1 GiB)
  --lag-warn-seconds <n>        warn when a committed transaction has waited more than n seconds
                                for delivery; env PG_TO_BROKERS_LAG_WARN_SECONDS; default 300
  --lag-poll-seconds <n>        how often the slot is read while streaming (1-3600);
                                env PG_TO_BROKERS_LAG_POLL_SECONDS; default 10
  --format <classic|debezium>   change record format: classic (also called seed; the original
                                project's record shape: fields, values, types, table_name, operation,
                                transaction_id) or debezium; env PG_TO_BROKERS_FORMAT; default classic
  --log-level <level>           error, warn, info or debug; env PG_TO_BROKERS_LOG_LEVEL; default info
  --log-format <text|json>      stderr log lines as text (time level message key=value …) or as
                                one JSON object each ({"time","level","message", …fields});
                                env PG_TO_BROKERS_LOG_FORMAT; default text
  --log-progress-seconds <n>    while streaming, an info line every n seconds (also when idle):
                                rows and transactions delivered, rows/s, confirmed LSN, lag in
                                bytes; 0 turns it off (0-86400);
                                env PG_TO_BROKERS_LOG_PROGRESS_SECONDS; default 60
  --heartbeat-seconds <n>       while streaming, emit a logical message in the source database
                                every n seconds (never a record), so the slot advances while its
                                tables are idle and other databases write; 0 is off (0-86400);
                                env PG_TO_BROKERS_HEARTBEAT_SECONDS; default 0
  --metrics-listen <host:port>  serve /metrics (Prometheus), /healthz and /readyz over HTTP on this
                                address; a bare port means 127.0.0.1:port; use 0.0.0.0:port to be
                                reached from other hosts; env PG_TO_BROKERS_METRICS_LISTEN;
                                default: off
  --help, -h                    show this help
  --version                     print the version

Config file (JSON; every key optional except postgres.url; unknown keys are errors):
  {
    "postgres": { "url": "postgres://USER:PASSWORD@HOST:5432/app", "slot": "app_cdc",
                  "publication": "app_cdc", "tables": ["public.orders"],
                  "createSlot": true, "createPublication": true, "dropSlotOnExit": false,
                  "statusIntervalMs": 10000, "connectTimeoutMs": 10000,
                  "streaming": "auto", "spoolDirectory": "/var/tmp" },
    "writer": { "type": "file", "path": "changes.jsonl", "fsync": true },
    "batch": { "maxRecords": 1000, "maxBytes": 4194304, "maxLatencyMs": 50, "queueDepth": 8 },
    "snapshot": { "mode": "never", "chunkSize": 4096, "parallelTables": 1, "progress": "auto" },
    "lag": { "warnBytes": 1073741824, "warnSeconds": 300, "pollSeconds": 10 },
    "metrics": { "listen": "127.0.0.1:9187" },
    "format": "classic",
    "logLevel": "info"
  }
  Only in the file: postgres.statusIntervalMs (how often progress is reported to the server, ms),
  postgres.connectTimeoutMs, postgres.streaming ("auto": stream transactions still in progress,
  spooled to disk until they commit, when PostgreSQL is 14 or later; "on"; "off": the server keeps
  them until commit), postgres.spoolDirectory (where those spool files go; default: the OS temp
  directory, which should not be a RAM disk for large transactions), writer.fsync, batch.maxBytes
  (batch.maxInFlightBatches is the deprecated name of batch.queueDepth). A module writer
  is { "type": "module", "path": "./my-writer.ts", "options": { ... } }. A Kafka writer is
  { "type": "kafka", "brokers": ["10.0.0.5:9092"], "topicTemplate": "cdc.{schema}.{table}",
    "sasl": { "mechanism": "scram-sha-256", "username": "cdc", "password": "..." }, "ssl": true }.
  A Kinesis writer is { "type": "kinesis", "streamName": "orders", "region": "eu-west-1",
    "aggregation": true, "oversizedRecord": "dead-letter", "deadLetterPath": "too-big.jsonl" }.
`

/** Help for newcomers: what the tool does, how to start it, every flag with its variable and default. */
export const HELP_TEXT: string = [
  INTRO,
  ...flagLines(`--writer <${WRITERS.map((writer) => writer.type).join('|')}>`, ['where changes go; env PG_TO_BROKERS_WRITER; default stdout']),
  ...WRITERS.filter((writer) => writer.help === undefined).flatMap(settingLines),
  '',
  ...WRITERS.flatMap(sectionLines),
  OUTRO,
].join('\n')

/** A writer's own help section: its title, its flags, its notes, and a blank line. */
function sectionLines(writer: WriterDescriptor): string[] {
  if (writer.help === undefined) return []
  return [writer.help.title, ...settingLines(writer), ...writer.help.notes.map((note) => `  ${note}`), '']
}

function settingLines(writer: WriterDescriptor): string[] {
  return writer.settings.flatMap((setting) => (setting.flag === undefined ? [] : flagLines(usage(setting, setting.flag), setting.help)))
}

function usage(setting: WriterSetting, flag: string): string {
  return isSwitch(setting) ? `${flag}, ${flag.replace(/^--/, '--no-')}` : `${flag} ${setting.arg ?? ''}`
}

/** A flag's usage in the first column and its help beside it, or below it when the usage is too wide. */
function flagLines(flagUsage: string, help: readonly string[]): string[] {
  const indent = ' '.repeat(32)
  const [first, ...rest] = help
  const head =
    flagUsage.length < 30 && first !== undefined ? [`  ${flagUsage.padEnd(30)}${first}`] : [`  ${flagUsage}`, ...(first === undefined ? [] : [indent + first])]
  return [...head, ...rest.map((line) => indent + line)]
}
