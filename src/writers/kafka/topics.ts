/**
 * @module Topic routing for the Kafka writer: one fixed topic, or one topic per table from a
 * template such as `cdc.{schema}.{table}`, with names mapped onto Kafka's legal topic characters.
 */
import type { Change } from '../../change/change.ts'

/** Kafka's limit on a topic name's length (kafka.common.internals.Topic: 249 characters). */
export const KAFKA_MAX_TOPIC_LENGTH = 249
/** The characters Kafka accepts in a topic name. */
const LEGAL_TOPIC = /^[A-Za-z0-9._-]+$/
const ILLEGAL_CHAR = /[^A-Za-z0-9._-]/gu
const PLACEHOLDER = /\{(schema|table)\}/g
/** What `{schema}` stands for in the topic of a logical message (pg_logical_emit_message), whose `{table}` is its prefix. */
export const MESSAGE_SCHEMA = '_message'

/** Why a fixed topic name is unacceptable to Kafka; undefined when it is fine. */
export function topicNameProblem(name: string): string | undefined {
  if (name === '.' || name === '..') return 'a topic cannot be named "." or ".."'
  if (name.length > KAFKA_MAX_TOPIC_LENGTH) return `a topic name has at most ${KAFKA_MAX_TOPIC_LENGTH} characters`
  if (!LEGAL_TOPIC.test(name)) return 'a topic name uses only letters, digits, ".", "_" and "-"'
  return undefined
}

/** Why a topic template is unacceptable; undefined when it is fine. */
export function topicTemplateProblem(template: string): string | undefined {
  if (!/\{table\}/.test(template)) return 'a topic template needs the {table} placeholder (e.g. "cdc.{schema}.{table}")'
  const rest = template.replace(PLACEHOLDER, '')
  if (/[{}]/.test(rest)) return 'a topic template knows only the placeholders {schema} and {table}'
  if (rest !== '' && !LEGAL_TOPIC.test(rest)) return 'outside its placeholders, a topic template uses only letters, digits, ".", "_" and "-"'
  return undefined
}

/**
 * Maps any text onto a legal topic name: each character other than A-Z, a-z, 0-9, ".", "_" and
 * "-" becomes "_" ("My Table" → "My_Table"); "." and ".." become "_" and "__"; a name longer than
 * 249 characters keeps its first 240 and ends in "-" plus 8 hex digits of its hash, so that long
 * names stay distinct. Different names can map to one topic ("a b" and "a_b"): records still
 * carry their exact `table_name`.
 */
export function sanitizeTopicName(text: string): string {
  let name = text.replace(ILLEGAL_CHAR, '_')
  if (name === '') name = '_'
  if (name === '.' || name === '..') name = name.replaceAll('.', '_')
  if (name.length > KAFKA_MAX_TOPIC_LENGTH) name = `${name.slice(0, 240)}-${fnv1a(text)}`
  return name
}

/** Chooses the topic of each change. */
export interface TopicRouter {
  topicFor(change: Change): string
}

/** Every change to one topic. @throws Error when the name is not a legal Kafka topic. */
export function fixedTopic(topic: string): TopicRouter {
  const problem = topicNameProblem(topic)
  if (problem !== undefined) throw new Error(`Kafka topic ${JSON.stringify(topic)}: ${problem}`)
  return { topicFor: () => topic }
}

/**
 * One topic per table: `{schema}` and `{table}` are replaced by the table's schema and name, the
 * result sanitized (sanitizeTopicName). Logical messages use schema "_message" and their prefix as
 * table. Names are cached per relation/prefix. @throws Error when the template is not usable.
 */
export function templateTopic(template: string): TopicRouter {
  const problem = topicTemplateProblem(template)
  if (problem !== undefined) throw new Error(`Kafka topic template ${JSON.stringify(template)}: ${problem}`)
  const cache = new Map<string, string>()
  return {
    topicFor(change) {
      const schema = change.relation?.schema ?? MESSAGE_SCHEMA
      const table = change.relation?.name ?? change.message?.prefix ?? ''
      const cacheKey = `${schema}\0${table}`
      let topic = cache.get(cacheKey)
      if (topic === undefined) {
        topic = sanitizeTopicName(template.replace(PLACEHOLDER, (_, part: string) => (part === 'schema' ? schema : table)))
        cache.set(cacheKey, topic)
      }
      return topic
    },
  }
}

/** FNV-1a over UTF-16 code units, as 8 hex digits: a short, stable suffix for shortened names. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash.toString(16).padStart(8, '0')
}
