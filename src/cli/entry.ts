/** @module Entry point of the executable and the bundle: runs the CLI and exits with its code. */
import { exit } from '../runtime/io.ts'
import { main } from './main.ts'

exit(await main())
