/** @module The text `pg-to-brokers --help` prints. */

/** Help for newcomers: what the tool does, how to start it, every flag with its variable and default. */
export const HELP_TEXT = `pg-to-brokers: stream every committed PostgreSQL change, in commit order, to a broker
(JSON lines on stdout, a file, Kafka, Kinesis, or your own writer module), using logical replication (pgoutput).

Usage:
  pg-to-brokers run [flags]    start streaming (the default command when flags are given)
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
                                env PG_TO_BROKERS_STANDBY (true/false/1/0); default false
  --writer <stdout|file|module|kafka|kinesis>
                                where changes go; env PG_TO_BROKERS_WRITER; default stdout
  --file <path>                 append JSON lines to this file (implies --writer file)
                                env PG_TO_BROKERS_FILE_PATH; no default
  --writer-module <path>        file path or URL of a module whose default export is a StreamWriter
                                subclass, or a function returning a writer (an object with
                                publish(records)); implies --writer module;
                                env PG_TO_BROKERS_WRITER_MODULE
  --allow-remote-writer-module, --no-allow-remote-writer-module
                                let --writer-module be an http:, https:, npm: or jsr: specifier:
                                code fetched and run with this process's rights at every start;
                                env PG_TO_BROKERS_ALLOW_REMOTE_WRITER_MODULE; default off
  --writer-option <key=value>   option passed to the module writer, as text; repeatable;
                                no env variable

Kafka writer (--writer kafka; any --kafka-* flag or PG_TO_BROKERS_KAFKA_* variable implies it):
  --kafka-brokers <host:port,…> bootstrap servers (required); env PG_TO_BROKERS_KAFKA_BROKERS
  --kafka-topic <topic>         send every change to this topic; env PG_TO_BROKERS_KAFKA_TOPIC
  --kafka-topic-template <template>
                                one topic per table, e.g. cdc.{schema}.{table}; characters other
                                than letters, digits, . _ - become _ (give a topic or a template)
                                env PG_TO_BROKERS_KAFKA_TOPIC_TEMPLATE
  --kafka-client-id <id>        env PG_TO_BROKERS_KAFKA_CLIENT_ID; default pg-to-brokers
  --kafka-compression <none|gzip|snappy|lz4|zstd>
                                env PG_TO_BROKERS_KAFKA_COMPRESSION; default none (zstd needs
                                Node >= 22.15, Deno or Bun)
  --kafka-sasl-mechanism <plain|scram-sha-256|scram-sha-512>
                                env PG_TO_BROKERS_KAFKA_SASL_MECHANISM; default: no SASL
  --kafka-sasl-username <name>  env PG_TO_BROKERS_KAFKA_SASL_USERNAME; the password only from
                                env PG_TO_BROKERS_KAFKA_SASL_PASSWORD or the config file
  --kafka-ssl, --no-kafka-ssl   TLS to the brokers (the runtime's trusted CAs; CA, certificate and
                                key files in the config file's writer.ssl)
                                env PG_TO_BROKERS_KAFKA_SSL (true/false/1/0); default off
  --kafka-oversized-record <fail|dead-letter>
                                a record Kafka refuses as too large even alone (over the topic's
                                max.message.bytes): fail naming it, or append it to the dead-letter
                                file and go on; env PG_TO_BROKERS_KAFKA_OVERSIZED_RECORD; default fail
  --kafka-dead-letter-path <path>
                                the dead-letter file (JSON lines, fsynced, created with mode 0600)
                                env PG_TO_BROKERS_KAFKA_DEAD_LETTER_PATH
  --kafka-tombstones, --no-kafka-tombstones
                                after each DELETE, send its key with a null value, so log-compacted
                                topics drop the key; env PG_TO_BROKERS_KAFKA_TOMBSTONES; default off
  Messages: key = the partition key (primary-key values by default), value = the record, headers
  id, lsn, transaction_id, operation, table_name. The producer is idempotent with acks=all;
  topics are never created. Only in the config file: writer.deliveryTimeoutMs (120000),
  writer.connectTimeoutMs (10000), writer.maxRequestBytes (1000000), writer.ssl.{caFile,
  certFile, keyFile, rejectUnauthorized}.

Kinesis writer (--writer kinesis; any --kinesis-* flag or PG_TO_BROKERS_KINESIS_* variable implies it):
  --kinesis-stream <name|arn>   the stream (required; a value starting with arn: is a stream ARN)
                                env PG_TO_BROKERS_KINESIS_STREAM
  --kinesis-region <region>     e.g. us-east-1 (required); else AWS_REGION, else AWS_DEFAULT_REGION,
                                else the region in the stream ARN
  --kinesis-endpoint <url>      endpoint override: a VPC endpoint, or a local server such as
                                http://127.0.0.1:4568; env PG_TO_BROKERS_KINESIS_ENDPOINT
  --kinesis-aggregation, --no-kinesis-aggregation
                                pack records into KPL aggregated records (read them with the KCL or
                                a KPL de-aggregator); default off
  Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY(/AWS_SESSION_TOKEN), else the AWS_PROFILE
  profile in ~/.aws/credentials or ~/.aws/config (static keys), else the ECS/EKS container
  endpoint, else EC2 instance metadata (IMDSv2). Record: Data = the record, PartitionKey = the
  partition key (table + primary-key values by default). Per partition key, no record is stored
  after a later one, even when PutRecords fails partly. Only in the config file: writer.partitionKey
  ("row", "table" or "constant"), writer.constantKey, writer.explicitHashKey (false),
  writer.maxConcurrentRequests (4), writer.maxAttempts (10), writer.maxRetryTimeMs (120000),
  writer.requestTimeoutMs (30000), writer.oversizedRecord ("fail" or "dead-letter"),
  writer.deadLetterPath.

  --batch-size <n>              most changes per batch handed to the writer, 1-100000
                                env PG_TO_BROKERS_BATCH_SIZE; default 1000
  --max-batch-latency-ms <n>    longest a change waits for its batch to fill, 0-600000
                                env PG_TO_BROKERS_MAX_BATCH_LATENCY_MS; default 50
  --format <seed|debezium>      change record format; env PG_TO_BROKERS_FORMAT; default seed
  --log-level <level>           error, warn, info or debug; env PG_TO_BROKERS_LOG_LEVEL; default info
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
    "batch": { "maxRecords": 1000, "maxBytes": 4194304, "maxLatencyMs": 50, "maxInFlightBatches": 8 },
    "format": "seed",
    "logLevel": "info"
  }
  Only in the file: postgres.statusIntervalMs (how often progress is reported to the server, ms),
  postgres.connectTimeoutMs, postgres.streaming ("auto": stream transactions still in progress,
  spooled to disk until they commit, when PostgreSQL is 14 or later; "on"; "off": the server keeps
  them until commit), postgres.spoolDirectory (where those spool files go; default: the OS temp
  directory, which should not be a RAM disk for large transactions), writer.fsync, batch.maxBytes, batch.maxInFlightBatches. A module writer
  is { "type": "module", "path": "./my-writer.ts", "options": { ... } }. A Kafka writer is
  { "type": "kafka", "brokers": ["10.0.0.5:9092"], "topicTemplate": "cdc.{schema}.{table}",
    "sasl": { "mechanism": "scram-sha-256", "username": "cdc", "password": "..." }, "ssl": true }.
  A Kinesis writer is { "type": "kinesis", "streamName": "orders", "region": "eu-west-1",
    "aggregation": true, "oversizedRecord": "dead-letter", "deadLetterPath": "too-big.jsonl" }.
`
