/*
 * brook.h - the public interface of libbrook, brook's client library.
 *
 * This is the only header applications include. It holds the project-wide
 * error enum shared by the wire protocol, the broker, the library and the
 * CLI: codes >= 0 travel on the wire and keep Kafka's numbers so a Kafka user
 * reads them at a glance; codes < 0 are local to one process (librdkafka's
 * convention) and never sent.
 *
 * Ownership: strings returned by brook_err_name()/brook_err_str() are static.
 */
#ifndef BROOK_H
#define BROOK_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message). One table, expanded into the enum and into the
 * name/message lookups, so the three can never drift apart. */
#define BROOK_ERR_TABLE(X) \
	/* Local errors: never on the wire. */ \
	X(_BAD_MSG,            -199, "Malformed or undecodable data") \
	X(_NOMEM,              -198, "Out of memory") \
	X(_IO,                 -197, "I/O error") \
	X(_INVALID_ARG,        -196, "Invalid argument") \
	X(_NOENT,              -195, "No such file, node or entry") \
	X(_EXISTS,             -194, "Already exists") \
	X(_TIMED_OUT,          -193, "Local: operation timed out") \
	X(_TRANSPORT,          -192, "Broker transport failure") \
	X(_CONFIG,             -191, "Invalid configuration") \
	X(_ZK,                 -190, "ZooKeeper error") \
	X(_CONNECTION_LOSS,    -189, "ZooKeeper connection lost (session may survive)") \
	X(_SESSION_EXPIRED,    -188, "ZooKeeper session expired") \
	X(_NO_SPACE,           -187, "No space left on device") \
	X(_CORRUPT,            -186, "Corrupt data on disk") \
	X(_UNKNOWN_CODEC,      -185, "Unknown or unsupported compression codec") \
	X(_PARTITION_EOF,      -184, "Reached the end of the partition") \
	X(_STATE,              -183, "Operation not valid in the current state") \
	X(_QUEUE_FULL,         -182, "Local queue is full") \
	X(_READ_ONLY,          -181, "Read-only file system or directory") \
	X(_NOT_OURS,           -180, "File or directory does not belong to this log") \
	X(_VERSION,            -179, "Version check failed (concurrent update)") \
	X(_CLOSED,             -178, "Handle was closed") \
	/* Wire errors: Kafka's numbers. */ \
	X(UNKNOWN_SERVER_ERROR,        -1, "Unexpected server error") \
	X(NO_ERROR,                     0, "Success") \
	X(OFFSET_OUT_OF_RANGE,          1, "Offset out of range") \
	X(CORRUPT_MESSAGE,              2, "Message failed its CRC check or is otherwise corrupt") \
	X(UNKNOWN_TOPIC_OR_PARTITION,   3, "Unknown topic or partition") \
	X(INVALID_FETCH_SIZE,           4, "Invalid fetch size") \
	X(LEADER_NOT_AVAILABLE,         5, "Leader not available") \
	X(NOT_LEADER_OR_FOLLOWER,       6, "Broker is not the leader or follower for this partition") \
	X(REQUEST_TIMED_OUT,            7, "Request timed out") \
	X(BROKER_NOT_AVAILABLE,         8, "Broker not available") \
	X(REPLICA_NOT_AVAILABLE,        9, "Replica not available") \
	X(MESSAGE_TOO_LARGE,           10, "Message larger than the broker accepts") \
	X(STALE_CONTROLLER_EPOCH,      11, "Request from a stale controller epoch") \
	X(NETWORK_EXCEPTION,           13, "Network error") \
	X(INVALID_TOPIC_EXCEPTION,     17, "Invalid topic name") \
	X(RECORD_LIST_TOO_LARGE,       18, "Record batch list larger than the broker accepts") \
	X(NOT_ENOUGH_REPLICAS,         19, "Fewer in-sync replicas than min.insync.replicas") \
	X(NOT_ENOUGH_REPLICAS_AFTER_APPEND, 20, "Written, but fewer in-sync replicas than required") \
	X(INVALID_REQUIRED_ACKS,       21, "Invalid acks value") \
	X(INVALID_TIMESTAMP,           32, "Invalid timestamp") \
	X(UNSUPPORTED_VERSION,         35, "Unsupported API or API version") \
	X(TOPIC_ALREADY_EXISTS,        36, "Topic already exists") \
	X(INVALID_PARTITIONS,          37, "Invalid number of partitions") \
	X(INVALID_REPLICATION_FACTOR,  38, "Invalid replication factor") \
	X(INVALID_REPLICA_ASSIGNMENT,  39, "Invalid replica assignment") \
	X(INVALID_CONFIG,              40, "Invalid configuration") \
	X(NOT_CONTROLLER,              41, "Broker is not the controller") \
	X(INVALID_REQUEST,             42, "Invalid or malformed request") \
	X(OUT_OF_ORDER_SEQUENCE_NUMBER, 45, "Producer sequence number out of order") \
	X(DUPLICATE_SEQUENCE_NUMBER,   46, "Duplicate producer sequence number") \
	X(INVALID_PRODUCER_EPOCH,      47, "Producer epoch is stale") \
	X(KAFKA_STORAGE_ERROR,         56, "Storage error on the broker") \
	X(UNKNOWN_PRODUCER_ID,         59, "Unknown producer id") \
	X(FENCED_LEADER_EPOCH,         74, "Leader epoch is older than the broker's") \
	X(UNKNOWN_LEADER_EPOCH,        75, "Leader epoch is newer than the broker's") \
	X(UNSUPPORTED_COMPRESSION_TYPE, 76, "Unsupported compression type") \
	X(INVALID_RECORD,              87, "Invalid record")

typedef enum brook_err {
#define BROOK_ERR_ENUM_(name, value, msg) BROOK_ERR_##name = value,
	BROOK_ERR_TABLE(BROOK_ERR_ENUM_)
#undef BROOK_ERR_ENUM_
} brook_err_t;

/* Symbolic name without the BROOK_ERR_ prefix ("NOT_LEADER_OR_FOLLOWER"),
 * or "ERR_<n>" style "UNKNOWN" for codes outside the table. */
const char *brook_err_name(brook_err_t err);

/* Human-readable message for the code. */
const char *brook_err_str(brook_err_t err);

/* Maps errno to the closest brook error (ENOSPC -> _NO_SPACE, ...). */
brook_err_t brook_err_from_errno(int errnum);

#ifdef __cplusplus
}
#endif
#endif /* BROOK_H */
