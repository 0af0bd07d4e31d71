/**
 * @module A second, throwaway PostgreSQL cluster with wal_level=replica, for the one test that
 * needs a server where logical decoding is off. Started and stopped (by its PID) by that test.
 */
import { startFaultCluster, type FaultCluster } from './faults/cluster.ts'

export function startReplicaLevelServer(): Promise<FaultCluster> {
  // A later -c setting wins over the harness's wal_level=logical.
  return startFaultCluster('pg-replica-level', ['wal_level=replica'])
}
