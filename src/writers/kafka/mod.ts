/**
 * @module The Kafka writer, a separate entry point (`pg-to-brokers/kafka`) so that the Kafka client
 * is loaded only by those who use it: the CLI imports it when writer type "kafka" is chosen.
 */
export { KafkaWriter } from './writer.ts'
export type { KafkaWriterOptions, KafkaCompression, KafkaSaslMechanism, KafkaSaslOptions, KafkaSslOptions } from './options.ts'
export { KAFKA_HEADERS } from './messages.ts'
export { sanitizeTopicName, KAFKA_MAX_TOPIC_LENGTH } from './topics.ts'
