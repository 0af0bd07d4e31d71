// The fault harness, short form (the long form: npm run faults). See faults/campaign.ts.
import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import { currentRuntime } from './process.ts'
import { runCampaign } from './faults/campaign.ts'

const SHORT_FORM_FAULTS = 20

test(
  'faults: kill -9, connection cuts, stalls and PostgreSQL restarts under a workload: 0 missing, order kept, duplicates identical',
  async () => {
    const tally = await runCampaign({ faults: SHORT_FORM_FAULTS })
    assertEquals(tally.missing, 0, 'rows missing')
    console.log(
      `     ${currentRuntime()}, seed ${tally.seed}: ${JSON.stringify(tally.faults)}; ${tally.reconnects} reconnects by itself, ` +
        `${tally.processes} processes; ` +
        `${tally.transactions} transactions, ${tally.unique} distinct records, ${tally.duplicates} duplicates (byte-identical), 0 missing; ${tally.ms} ms`,
    )
  },
  { timeoutMs: 600_000 },
) // a campaign restarts PostgreSQL several times: about a minute, far more on a busy machine
