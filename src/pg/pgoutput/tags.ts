/** @module pgoutput message tags and flag bits, as the Logical Replication Message Formats chapter names them. */

export const BEGIN = 0x42 // 'B'
export const COMMIT = 0x43 // 'C'
export const ORIGIN = 0x4f // 'O'
export const RELATION = 0x52 // 'R'
export const TYPE = 0x59 // 'Y'
export const INSERT = 0x49 // 'I'
export const UPDATE = 0x55 // 'U'
export const DELETE = 0x44 // 'D'
export const TRUNCATE = 0x54 // 'T'
export const MESSAGE = 0x4d // 'M'
export const STREAM_START = 0x53 // 'S'
export const STREAM_STOP = 0x45 // 'E'
export const STREAM_COMMIT = 0x63 // 'c'
export const STREAM_ABORT = 0x41 // 'A'
export const TUPLE_KEY = 0x4b // 'K'
export const TUPLE_OLD = 0x4f // 'O'
export const TUPLE_NEW = 0x4e // 'N'
export const COLUMN_NULL = 0x6e // 'n'
export const COLUMN_UNCHANGED = 0x75 // 'u'
export const COLUMN_TEXT = 0x74 // 't'
export const COLUMN_BINARY = 0x62 // 'b'

export const TRUNCATE_CASCADE = 1
export const TRUNCATE_RESTART_IDENTITY = 2
export const MESSAGE_TRANSACTIONAL = 1
export const COLUMN_FLAG_KEY = 1
