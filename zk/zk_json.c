/* zk_json.c - Kafka's znode JSON shapes <-> plain C structs (jansson). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "errstr.h"
#include "zk_json.h"
#include "zk_paths.h"

static brook_err_t bad(char *errstr, size_t errstr_size, const char *shape, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Every decode error names the znode kind first, then the field:
 * "partition state: \"leader\": must be an integer >= -1 (got string)". */
static brook_err_t bad(char *errstr, size_t errstr_size, const char *shape, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	brook_errstr_vat(errstr, errstr_size, shape, fmt, ap);
	va_end(ap);
	return BROOK_ERR__BAD_MSG;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "real number";
	case JSON_TRUE: return "true";
	case JSON_FALSE: return "false";
	case JSON_NULL: return "null";
	}
	return "unknown";
}

/* Parses the whole znode as one JSON object. Duplicate keys are refused:
 * after a hand edit, which of two "leader" fields counts is anyone's guess. */
static json_t *load_object(const char *data, size_t len, const char *shape, brook_err_t *err,
			   char *errstr, size_t errstr_size)
{
	json_error_t jerr;
	json_t *root;

	if (!data || len == 0) {
		*err = bad(errstr, errstr_size, shape, "znode has no data");
		return NULL;
	}
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		*err = bad(errstr, errstr_size, shape, "invalid JSON at line %d column %d: %s",
			   jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		*err = bad(errstr, errstr_size, shape, "expected a JSON object, got %s", type_name(root));
		json_decref(root);
		return NULL;
	}
	*err = BROOK_ERR_NO_ERROR;
	return root;
}

/* Strict decimal text: digits only (leading zeros allowed, as Java's
 * parseLong allows them), no sign, no spaces, value in [0, max]. */
static int parse_decimal(const char *s, size_t len, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (INT64_MAX - (s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

enum { OPTIONAL = 0, REQUIRED = 1 };

/* Reads an integer field in [min, max]. An absent optional field leaves
 * *out alone. */
static brook_err_t get_int(const json_t *obj, const char *key, int required, int64_t min, int64_t max,
			   int64_t *out, const char *shape, char *errstr, size_t errstr_size)
{
	json_t *v = json_object_get(obj, key);
	json_int_t n;

	if (!v) {
		if (required)
			return bad(errstr, errstr_size, shape, "missing field \"%s\"", key);
		return BROOK_ERR_NO_ERROR;
	}
	if (!json_is_integer(v))
		return bad(errstr, errstr_size, shape, "\"%s\": expected an integer, got %s", key,
			   type_name(v));
	n = json_integer_value(v);
	if (n < min || n > max)
		return bad(errstr, errstr_size, shape,
			   "\"%s\": %" JSON_INTEGER_FORMAT " is out of range [%" PRId64 ", %" PRId64 "]",
			   key, n, min, max);
	*out = n;
	return BROOK_ERR_NO_ERROR;
}

static brook_err_t get_int32(const json_t *obj, const char *key, int required, int32_t min, int32_t max,
			     int32_t *out, const char *shape, char *errstr, size_t errstr_size)
{
	int64_t v = *out;
	brook_err_t err = get_int(obj, key, required, min, max, &v, shape, errstr, errstr_size);

	if (!err)
		*out = (int32_t)v;
	return err;
}

/* Reads a string field of 0..max bytes into buf[max + 1]. With allow_null,
 * JSON null yields "" and *is_null = 1. */
static brook_err_t get_str(const json_t *obj, const char *key, int required, int allow_null,
			   char *buf, size_t max, int *is_null, const char *shape,
			   char *errstr, size_t errstr_size)
{
	json_t *v = json_object_get(obj, key);
	size_t len;

	if (is_null)
		*is_null = 0;
	if (!v) {
		if (required)
			return bad(errstr, errstr_size, shape, "missing field \"%s\"", key);
		return BROOK_ERR_NO_ERROR;
	}
	if (allow_null && json_is_null(v)) {
		buf[0] = '\0';
		if (is_null)
			*is_null = 1;
		return BROOK_ERR_NO_ERROR;
	}
	if (!json_is_string(v))
		return bad(errstr, errstr_size, shape, "\"%s\": expected a string%s, got %s", key,
			   allow_null ? " or null" : "", type_name(v));
	len = json_string_length(v);
	if (len > max)
		return bad(errstr, errstr_size, shape, "\"%s\": longer than %zu bytes", key, max);
	memcpy(buf, json_string_value(v), len);
	buf[len] = '\0';
	return BROOK_ERR_NO_ERROR;
}

/* Kafka writes timestamps as strings of milliseconds ("1548342545232").
 * Optional: Kafka itself never reads them back. */
static brook_err_t get_timestamp(const json_t *obj, int64_t *out, const char *shape,
				 char *errstr, size_t errstr_size)
{
	json_t *v = json_object_get(obj, "timestamp");

	*out = 0;
	if (!v)
		return BROOK_ERR_NO_ERROR;
	if (!json_is_string(v))
		return bad(errstr, errstr_size, shape,
			   "\"timestamp\": expected a string of milliseconds, got %s", type_name(v));
	if (parse_decimal(json_string_value(v), json_string_length(v), INT64_MAX, out) != 0)
		return bad(errstr, errstr_size, shape,
			   "\"timestamp\": \"%s\" is not a non-negative decimal number of milliseconds",
			   json_string_value(v));
	return BROOK_ERR_NO_ERROR;
}

/* Reads an array of distinct broker ids (>= 0) into ids[0..max). */
static brook_err_t get_id_list(const json_t *arr, const char *what, int32_t *ids, int32_t max,
			       int32_t *cnt, const char *shape, char *errstr, size_t errstr_size)
{
	size_t n;

	if (!json_is_array(arr))
		return bad(errstr, errstr_size, shape, "%s: expected an array of broker ids, got %s",
			   what, type_name(arr));
	n = json_array_size(arr);
	if (n > (size_t)max)
		return bad(errstr, errstr_size, shape, "%s: more than %d broker ids", what, (int)max);
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(arr, i);
		json_int_t id;

		if (!json_is_integer(v))
			return bad(errstr, errstr_size, shape, "%s[%zu]: expected a broker id, got %s",
				   what, i, type_name(v));
		id = json_integer_value(v);
		if (id < 0 || id > INT32_MAX)
			return bad(errstr, errstr_size, shape,
				   "%s[%zu]: broker id %" JSON_INTEGER_FORMAT " is out of range", what, i, id);
		for (size_t j = 0; j < i; j++)
			if (ids[j] == id)
				return bad(errstr, errstr_size, shape,
					   "%s: broker id %" JSON_INTEGER_FORMAT " appears twice", what, id);
		ids[i] = (int32_t)id;
	}
	*cnt = (int32_t)n;
	return BROOK_ERR_NO_ERROR;
}

/* Serializes compactly, as Kafka does ({"a":1,"b":[2]}), and drops the
 * reference. Jansson keeps insertion order, so fields come out in the
 * order the encoder added them. */
static brook_err_t dump(json_t *root, char **out)
{
	char *s;

	if (!root)
		return BROOK_ERR__NOMEM;
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!s)
		return BROOK_ERR__NOMEM;
	*out = s;
	return BROOK_ERR_NO_ERROR;
}

/* json_object_set_new that reports failure (NULL value or no memory) and
 * consumes the value either way. */
static int put(json_t *obj, const char *key, json_t *v)
{
	return v ? json_object_set_new(obj, key, v) : -1;
}

static int put_timestamp(json_t *obj, int64_t ms)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, ms);
	return put(obj, "timestamp", json_string(buf));
}

static int valid_id_list(const int32_t *ids, int32_t cnt, int32_t max, int allow_empty)
{
	if (cnt < (allow_empty ? 0 : 1) || cnt > max || (cnt > 0 && !ids))
		return 0;
	for (int32_t i = 0; i < cnt; i++) {
		if (ids[i] < 0)
			return 0;
		for (int32_t j = 0; j < i; j++)
			if (ids[j] == ids[i])
				return 0;
	}
	return 1;
}

static json_t *id_array(const int32_t *ids, int32_t cnt)
{
	json_t *arr = json_array();

	for (int32_t i = 0; arr && i < cnt; i++) {
		if (json_array_append_new(arr, json_integer(ids[i])) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* --- broker registration ------------------------------------------------ */

#define SHAPE_BROKER "broker registration"

brook_err_t zk_endpoint_parse(const char *s, zk_endpoint_t *ep, char *errstr, size_t errstr_size)
{
	const char *sep, *host, *host_end, *port;
	int64_t portnum;
	size_t n;

	memset(ep, 0, sizeof(*ep));
	sep = strstr(s, "://");
	if (!sep || sep == s)
		return bad(errstr, errstr_size, "endpoint", "\"%s\": expected LISTENER://host:port", s);
	n = (size_t)(sep - s);
	if (n > ZK_LISTENER_MAX)
		return bad(errstr, errstr_size, "endpoint", "\"%s\": listener name too long", s);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return bad(errstr, errstr_size, "endpoint",
				   "\"%s\": listener name may hold only letters, digits, '_' and '-'", s);
	}
	memcpy(ep->listener, s, n);
	host = sep + 3;
	if (*host == '[') {
		/* IPv6 literal, as Kafka formats it: [::1]:9092 */
		host++;
		host_end = strchr(host, ']');
		if (!host_end || host_end[1] != ':')
			return bad(errstr, errstr_size, "endpoint", "\"%s\": unterminated [IPv6] host", s);
		port = host_end + 2;
	} else {
		host_end = strrchr(host, ':');
		if (!host_end)
			return bad(errstr, errstr_size, "endpoint", "\"%s\": missing :port", s);
		port = host_end + 1;
	}
	n = (size_t)(host_end - host);
	if (n > ZK_HOST_MAX)
		return bad(errstr, errstr_size, "endpoint", "\"%s\": host name too long", s);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)host[i] <= ' ' || host[i] == '/' || host[i] == 0x7f)
			return bad(errstr, errstr_size, "endpoint", "\"%s\": bad character in host", s);
	memcpy(ep->host, host, n);
	if (parse_decimal(port, strlen(port), 65535, &portnum) != 0)
		return bad(errstr, errstr_size, "endpoint", "\"%s\": port must be a number 0..65535", s);
	ep->port = (int32_t)portnum;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t zk_json_broker_decode(const char *data, size_t len, zk_broker_reg_t *out,
				  char *errstr, size_t errstr_size)
{
	brook_err_t err;
	json_t *root, *eps;
	int host_null = 0;

	memset(out, 0, sizeof(*out));
	out->port = -1;
	out->jmx_port = -1;
	root = load_object(data, len, SHAPE_BROKER, &err, errstr, errstr_size);
	if (!root)
		return err;
	if ((err = get_int32(root, "version", REQUIRED, 1, 5, &out->version, SHAPE_BROKER, errstr,
			     errstr_size)))
		goto done;
	/* Version 1 had only host and port; later ones list every listener in
	 * "endpoints" and may set host to null. */
	if ((err = get_str(root, "host", out->version == 1, 1, out->host, ZK_HOST_MAX, &host_null,
			   SHAPE_BROKER, errstr, errstr_size)))
		goto done;
	if (!json_object_get(root, "host"))
		host_null = 1;
	if ((err = get_int32(root, "port", !host_null, host_null ? -1 : 0, 65535, &out->port,
			     SHAPE_BROKER, errstr, errstr_size)))
		goto done;
	if (!host_null && out->port < 0) {
		err = bad(errstr, errstr_size, SHAPE_BROKER, "\"port\": must be 0..65535 with a host");
		goto done;
	}
	eps = json_object_get(root, "endpoints");
	if (!eps && out->version >= 2) {
		err = bad(errstr, errstr_size, SHAPE_BROKER, "missing field \"endpoints\"");
		goto done;
	}
	if (eps) {
		if (!json_is_array(eps)) {
			err = bad(errstr, errstr_size, SHAPE_BROKER,
				  "\"endpoints\": expected an array of strings, got %s", type_name(eps));
			goto done;
		}
		if (json_array_size(eps) > ZK_BROKER_MAX_ENDPOINTS) {
			err = bad(errstr, errstr_size, SHAPE_BROKER, "\"endpoints\": more than %d entries",
				  ZK_BROKER_MAX_ENDPOINTS);
			goto done;
		}
		for (size_t i = 0; i < json_array_size(eps); i++) {
			json_t *e = json_array_get(eps, i);
			char sub[256];

			if (!json_is_string(e)) {
				err = bad(errstr, errstr_size, SHAPE_BROKER,
					  "\"endpoints\"[%zu]: expected a string, got %s", i, type_name(e));
				goto done;
			}
			if ((err = zk_endpoint_parse(json_string_value(e), &out->endpoints[i], sub,
						     sizeof(sub)))) {
				err = bad(errstr, errstr_size, SHAPE_BROKER, "\"endpoints\"[%zu]: %s", i, sub);
				goto done;
			}
			out->endpoint_cnt++;
		}
	}
	if (host_null && out->endpoint_cnt == 0) {
		err = bad(errstr, errstr_size, SHAPE_BROKER, "neither a host nor any endpoint");
		goto done;
	}
	if ((err = get_int32(root, "jmx_port", OPTIONAL, -1, 65535, &out->jmx_port, SHAPE_BROKER,
			     errstr, errstr_size)))
		goto done;
	if ((err = get_timestamp(root, &out->timestamp_ms, SHAPE_BROKER, errstr, errstr_size)))
		goto done;
	{
		int rack_null = 1;

		if ((err = get_str(root, "rack", OPTIONAL, 1, out->rack, ZK_RACK_MAX, &rack_null,
				   SHAPE_BROKER, errstr, errstr_size)))
			goto done;
		out->has_rack = json_object_get(root, "rack") && !rack_null;
	}
done:
	json_decref(root);
	return err;
}

brook_err_t zk_json_broker_encode(const zk_broker_reg_t *b, char **out)
{
	json_t *root, *eps;
	int fail = 0;

	if (!b || b->version < 1 || b->version > 5 || b->endpoint_cnt < 0 ||
	    b->endpoint_cnt > ZK_BROKER_MAX_ENDPOINTS || b->port < -1 || b->port > 65535 ||
	    (b->host[0] && b->port < 0) || (!b->host[0] && b->endpoint_cnt == 0) ||
	    b->jmx_port < -1 || b->jmx_port > 65535 || b->timestamp_ms < 0)
		return BROOK_ERR__INVALID_ARG;
	root = json_object();
	eps = json_array();
	if (!root || !eps) {
		json_decref(root);
		json_decref(eps);
		return BROOK_ERR__NOMEM;
	}
	for (int i = 0; i < b->endpoint_cnt && !fail; i++) {
		const zk_endpoint_t *ep = &b->endpoints[i];
		char s[ZK_LISTENER_MAX + ZK_HOST_MAX + 16];
		int v6 = strchr(ep->host, ':') != NULL;

		if (!ep->listener[0] || ep->port < 0 || ep->port > 65535) {
			json_decref(root);
			json_decref(eps);
			return BROOK_ERR__INVALID_ARG;
		}
		snprintf(s, sizeof(s), v6 ? "%s://[%s]:%d" : "%s://%s:%d", ep->listener, ep->host,
			 (int)ep->port);
		fail = json_array_append_new(eps, json_string(s)) != 0;
	}
	fail = fail || put(root, "version", json_integer(b->version));
	fail = fail || put(root, "host", b->host[0] ? json_string(b->host) : json_null());
	fail = fail || put(root, "port", json_integer(b->host[0] ? b->port : -1));
	fail = fail || put(root, "endpoints", json_incref(eps));
	fail = fail || put(root, "jmx_port", json_integer(b->jmx_port));
	fail = fail || put_timestamp(root, b->timestamp_ms);
	fail = fail || put(root, "rack", b->has_rack ? json_string(b->rack) : json_null());
	json_decref(eps);
	if (fail) {
		json_decref(root);
		return BROOK_ERR__NOMEM;
	}
	return dump(root, out);
}

/* --- topic partition assignment ----------------------------------------- */

#define SHAPE_TOPIC "topic assignment"

static zk_topic_assignment_t *assignment_alloc(int32_t partition_cnt, size_t total_ids)
{
	zk_topic_assignment_t *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->version = 1;
	a->partition_cnt = partition_cnt;
	a->partitions = calloc((size_t)partition_cnt, sizeof(*a->partitions));
	a->ids_storage = calloc(total_ids ? total_ids : 1, sizeof(int32_t));
	if (!a->partitions || !a->ids_storage) {
		zk_topic_assignment_free(a);
		return NULL;
	}
	return a;
}

zk_topic_assignment_t *zk_topic_assignment_new(int32_t partition_cnt, int32_t replication_factor)
{
	zk_topic_assignment_t *a;

	if (partition_cnt < 1 || partition_cnt > ZK_MAX_PARTITIONS || replication_factor < 1 ||
	    replication_factor > ZK_MAX_REPLICAS)
		return NULL;
	a = assignment_alloc(partition_cnt, (size_t)partition_cnt * (size_t)replication_factor);
	if (!a)
		return NULL;
	for (int32_t p = 0; p < partition_cnt; p++) {
		a->partitions[p].cnt = replication_factor;
		a->partitions[p].ids = a->ids_storage + (size_t)p * (size_t)replication_factor;
	}
	return a;
}

void zk_topic_assignment_free(zk_topic_assignment_t *a)
{
	if (!a)
		return;
	free(a->partitions);
	free(a->ids_storage);
	free(a);
}

brook_err_t zk_json_topic_assignment_decode(const char *data, size_t len,
					    zk_topic_assignment_t **out,
					    char *errstr, size_t errstr_size)
{
	brook_err_t err;
	json_t *root, *parts, *v;
	const char *key;
	int32_t version = 0, n;
	size_t total = 0, next = 0;
	zk_topic_assignment_t *a = NULL;

	*out = NULL;
	root = load_object(data, len, SHAPE_TOPIC, &err, errstr, errstr_size);
	if (!root)
		return err;
	if ((err = get_int32(root, "version", REQUIRED, 1, 3, &version, SHAPE_TOPIC, errstr,
			     errstr_size)))
		goto done;
	parts = json_object_get(root, "partitions");
	if (!parts) {
		err = bad(errstr, errstr_size, SHAPE_TOPIC, "missing field \"partitions\"");
		goto done;
	}
	if (!json_is_object(parts)) {
		err = bad(errstr, errstr_size, SHAPE_TOPIC, "\"partitions\": expected an object, got %s",
			  type_name(parts));
		goto done;
	}
	if (json_object_size(parts) < 1 || json_object_size(parts) > ZK_MAX_PARTITIONS) {
		err = bad(errstr, errstr_size, SHAPE_TOPIC, "\"partitions\": must hold 1..%d partitions",
			  ZK_MAX_PARTITIONS);
		goto done;
	}
	n = (int32_t)json_object_size(parts);
	/* First pass: keys are exactly 0..n-1 (each once, since duplicates
	 * were refused at parse time) and every value is an array. */
	json_object_foreach(parts, key, v) {
		int32_t p;

		if (zk_path_parse_id(key, &p) != BROOK_ERR_NO_ERROR || p >= n) {
			err = bad(errstr, errstr_size, SHAPE_TOPIC,
				  "\"partitions\": key \"%s\" is not a partition number 0..%d", key,
				  (int)n - 1);
			goto done;
		}
		if (!json_is_array(v)) {
			err = bad(errstr, errstr_size, SHAPE_TOPIC,
				  "\"partitions\".\"%s\": expected an array of broker ids, got %s", key,
				  type_name(v));
			goto done;
		}
		total += json_array_size(v);
	}
	a = assignment_alloc(n, total);
	if (!a) {
		err = BROOK_ERR__NOMEM;
		goto done;
	}
	a->version = version;
	/* Second pass, in partition order so each list sits after the
	 * previous one in ids_storage. */
	for (int32_t p = 0; p < n; p++) {
		char k[16], what[48];
		zk_replica_list_t *rl = &a->partitions[p];
		int32_t ids[ZK_MAX_REPLICAS];

		snprintf(k, sizeof(k), "%d", (int)p);
		snprintf(what, sizeof(what), "\"partitions\".\"%s\"", k);
		v = json_object_get(parts, k);
		if ((err = get_id_list(v, what, ids, ZK_MAX_REPLICAS, &rl->cnt, SHAPE_TOPIC, errstr,
				       errstr_size)))
			goto done;
		if (rl->cnt == 0) {
			err = bad(errstr, errstr_size, SHAPE_TOPIC, "%s: replica list is empty", what);
			goto done;
		}
		rl->ids = a->ids_storage + next;
		memcpy(rl->ids, ids, (size_t)rl->cnt * sizeof(int32_t));
		next += (size_t)rl->cnt;
	}
	*out = a;
	a = NULL;
done:
	zk_topic_assignment_free(a);
	json_decref(root);
	return err;
}

brook_err_t zk_json_topic_assignment_encode(const zk_topic_assignment_t *a, char **out)
{
	json_t *root, *parts;
	int fail = 0;

	if (!a || a->partition_cnt < 1 || a->partition_cnt > ZK_MAX_PARTITIONS || !a->partitions ||
	    a->version < 1 || a->version > 3)
		return BROOK_ERR__INVALID_ARG;
	for (int32_t p = 0; p < a->partition_cnt; p++)
		if (!valid_id_list(a->partitions[p].ids, a->partitions[p].cnt, ZK_MAX_REPLICAS, 0))
			return BROOK_ERR__INVALID_ARG;
	root = json_object();
	parts = json_object();
	if (!root || !parts) {
		json_decref(root);
		json_decref(parts);
		return BROOK_ERR__NOMEM;
	}
	fail = put(root, "version", json_integer(a->version));
	for (int32_t p = 0; p < a->partition_cnt && !fail; p++) {
		char k[16];

		snprintf(k, sizeof(k), "%d", (int)p);
		fail = put(parts, k, id_array(a->partitions[p].ids, a->partitions[p].cnt));
	}
	fail = fail || put(root, "partitions", json_incref(parts));
	json_decref(parts);
	if (fail) {
		json_decref(root);
		return BROOK_ERR__NOMEM;
	}
	return dump(root, out);
}

/* --- partition state ---------------------------------------------------- */

#define SHAPE_STATE "partition state"

brook_err_t zk_json_partition_state_decode(const char *data, size_t len, zk_partition_state_t *out,
					   char *errstr, size_t errstr_size)
{
	brook_err_t err;
	json_t *root, *isr;

	memset(out, 0, sizeof(*out));
	root = load_object(data, len, SHAPE_STATE, &err, errstr, errstr_size);
	if (!root)
		return err;
	if ((err = get_int32(root, "version", REQUIRED, 1, 2, &out->version, SHAPE_STATE, errstr,
			     errstr_size)) ||
	    (err = get_int32(root, "controller_epoch", REQUIRED, 0, INT32_MAX, &out->controller_epoch,
			     SHAPE_STATE, errstr, errstr_size)) ||
	    (err = get_int32(root, "leader", REQUIRED, -1, INT32_MAX, &out->leader, SHAPE_STATE,
			     errstr, errstr_size)) ||
	    (err = get_int32(root, "leader_epoch", REQUIRED, 0, INT32_MAX, &out->leader_epoch,
			     SHAPE_STATE, errstr, errstr_size)))
		goto done;
	isr = json_object_get(root, "isr");
	if (!isr) {
		err = bad(errstr, errstr_size, SHAPE_STATE, "missing field \"isr\"");
		goto done;
	}
	err = get_id_list(isr, "\"isr\"", out->isr, ZK_MAX_REPLICAS, &out->isr_cnt, SHAPE_STATE,
			  errstr, errstr_size);
done:
	json_decref(root);
	return err;
}

brook_err_t zk_json_partition_state_encode(const zk_partition_state_t *st, char **out)
{
	json_t *root;
	int fail;

	if (!st || st->version < 1 || st->version > 2 || st->controller_epoch < 0 || st->leader < -1 ||
	    st->leader_epoch < 0 || !valid_id_list(st->isr, st->isr_cnt, ZK_MAX_REPLICAS, 1))
		return BROOK_ERR__INVALID_ARG;
	root = json_object();
	if (!root)
		return BROOK_ERR__NOMEM;
	/* Kafka's field order (TopicPartitionStateZNode.encode). */
	fail = put(root, "controller_epoch", json_integer(st->controller_epoch)) ||
	       put(root, "leader", json_integer(st->leader)) ||
	       put(root, "version", json_integer(st->version)) ||
	       put(root, "leader_epoch", json_integer(st->leader_epoch)) ||
	       put(root, "isr", id_array(st->isr, st->isr_cnt));
	if (fail) {
		json_decref(root);
		return BROOK_ERR__NOMEM;
	}
	return dump(root, out);
}

/* --- controller ----------------------------------------------------------- */

#define SHAPE_CONTROLLER "controller"

brook_err_t zk_json_controller_decode(const char *data, size_t len, zk_controller_t *out,
				      char *errstr, size_t errstr_size)
{
	brook_err_t err;
	json_t *root;

	memset(out, 0, sizeof(*out));
	root = load_object(data, len, SHAPE_CONTROLLER, &err, errstr, errstr_size);
	if (!root)
		return err;
	if (!(err = get_int32(root, "version", REQUIRED, 1, 2, &out->version, SHAPE_CONTROLLER,
			      errstr, errstr_size)) &&
	    !(err = get_int32(root, "brokerid", REQUIRED, 0, INT32_MAX, &out->broker_id,
			      SHAPE_CONTROLLER, errstr, errstr_size)))
		err = get_timestamp(root, &out->timestamp_ms, SHAPE_CONTROLLER, errstr, errstr_size);
	json_decref(root);
	return err;
}

brook_err_t zk_json_controller_encode(const zk_controller_t *c, char **out)
{
	json_t *root;

	if (!c || c->version < 1 || c->version > 2 || c->broker_id < 0 || c->timestamp_ms < 0)
		return BROOK_ERR__INVALID_ARG;
	root = json_object();
	if (!root)
		return BROOK_ERR__NOMEM;
	if (put(root, "version", json_integer(c->version)) ||
	    put(root, "brokerid", json_integer(c->broker_id)) || put_timestamp(root, c->timestamp_ms)) {
		json_decref(root);
		return BROOK_ERR__NOMEM;
	}
	return dump(root, out);
}

/* --- plain decimal znodes ------------------------------------------------- */

static brook_err_t decode_decimal(const char *data, size_t len, int64_t max, int64_t *out,
				  const char *shape, char *errstr, size_t errstr_size)
{
	if (!data || len == 0)
		return bad(errstr, errstr_size, shape, "znode has no data");
	if (parse_decimal(data, len, max, out) != 0) {
		/* Quote at most 32 bytes of what we found; it may be binary. */
		char shown[33];
		size_t n = len < 32 ? len : 32;

		for (size_t i = 0; i < n; i++)
			shown[i] = (data[i] >= 0x20 && data[i] < 0x7f) ? data[i] : '?';
		shown[n] = '\0';
		return bad(errstr, errstr_size, shape,
			   "expected a decimal number 0..%" PRId64 ", got \"%s\"%s", max, shown,
			   len > n ? "..." : "");
	}
	return BROOK_ERR_NO_ERROR;
}

static brook_err_t encode_decimal(int64_t v, char **out)
{
	char *s = malloc(24);

	if (!s)
		return BROOK_ERR__NOMEM;
	snprintf(s, 24, "%" PRId64, v);
	*out = s;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t zk_json_controller_epoch_decode(const char *data, size_t len, int32_t *epoch,
					    char *errstr, size_t errstr_size)
{
	int64_t v;
	brook_err_t err = decode_decimal(data, len, INT32_MAX, &v, "controller epoch", errstr,
					 errstr_size);

	if (!err)
		*epoch = (int32_t)v;
	return err;
}

brook_err_t zk_json_controller_epoch_encode(int32_t epoch, char **out)
{
	if (epoch < 0)
		return BROOK_ERR__INVALID_ARG;
	return encode_decimal(epoch, out);
}

brook_err_t zk_json_offset_decode(const char *data, size_t len, int64_t *offset,
				  char *errstr, size_t errstr_size)
{
	return decode_decimal(data, len, INT64_MAX, offset, "consumer offset", errstr, errstr_size);
}

brook_err_t zk_json_offset_encode(int64_t offset, char **out)
{
	if (offset < 0)
		return BROOK_ERR__INVALID_ARG;
	return encode_decimal(offset, out);
}

/* --- cluster id ------------------------------------------------------------ */

#define SHAPE_CLUSTER "cluster id"

/* Kafka's cluster ids are 22-character URL-safe base64 UUIDs; we accept
 * any 1..64 printable non-space ASCII characters. */
static int valid_cluster_id(const char *id)
{
	size_t n = strlen(id);

	if (n < 1 || n > ZK_CLUSTER_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (id[i] <= ' ' || id[i] >= 0x7f)
			return 0;
	return 1;
}

brook_err_t zk_json_cluster_id_decode(const char *data, size_t len, zk_cluster_id_t *out,
				      char *errstr, size_t errstr_size)
{
	brook_err_t err;
	json_t *root, *ver;
	int64_t v;

	memset(out, 0, sizeof(*out));
	root = load_object(data, len, SHAPE_CLUSTER, &err, errstr, errstr_size);
	if (!root)
		return err;
	ver = json_object_get(root, "version");
	if (!ver) {
		err = bad(errstr, errstr_size, SHAPE_CLUSTER, "missing field \"version\"");
	} else if (!json_is_string(ver)) {
		err = bad(errstr, errstr_size, SHAPE_CLUSTER,
			  "\"version\": expected a string (Kafka writes \"1\"), got %s", type_name(ver));
	} else if (parse_decimal(json_string_value(ver), json_string_length(ver), 1000, &v) != 0 ||
		   v < 1) {
		err = bad(errstr, errstr_size, SHAPE_CLUSTER, "\"version\": \"%s\" is not a version number",
			  json_string_value(ver));
	} else if (!(err = get_str(root, "id", REQUIRED, 0, out->id, ZK_CLUSTER_ID_MAX, NULL,
				   SHAPE_CLUSTER, errstr, errstr_size)) &&
		   !valid_cluster_id(out->id)) {
		err = bad(errstr, errstr_size, SHAPE_CLUSTER,
			  "\"id\": must be 1..%d printable characters without spaces", ZK_CLUSTER_ID_MAX);
	}
	json_decref(root);
	return err;
}

brook_err_t zk_json_cluster_id_encode(const zk_cluster_id_t *c, char **out)
{
	json_t *root;

	if (!c || !valid_cluster_id(c->id))
		return BROOK_ERR__INVALID_ARG;
	root = json_object();
	if (!root)
		return BROOK_ERR__NOMEM;
	if (put(root, "version", json_string("1")) || put(root, "id", json_string(c->id))) {
		json_decref(root);
		return BROOK_ERR__NOMEM;
	}
	return dump(root, out);
}

/* --- topic config ------------------------------------------------------------ */

#define SHAPE_CONFIG "topic config"

zk_topic_config_t *zk_topic_config_new(void)
{
	zk_topic_config_t *c = calloc(1, sizeof(*c));

	if (c)
		c->version = 1;
	return c;
}

void zk_topic_config_free(zk_topic_config_t *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cnt; i++) {
		free(c->entries[i].name);
		free(c->entries[i].value);
	}
	free(c->entries);
	free(c);
}

static int valid_config_name(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > ZK_CONFIG_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (name[i] <= ' ' || name[i] >= 0x7f)
			return 0;
	return 1;
}

brook_err_t zk_topic_config_set(zk_topic_config_t *c, const char *name, const char *value)
{
	char *v;

	if (!c || !name || !value || !valid_config_name(name) || strlen(value) > ZK_CONFIG_VALUE_MAX)
		return BROOK_ERR__INVALID_ARG;
	if (!(v = strdup(value)))
		return BROOK_ERR__NOMEM;
	for (size_t i = 0; i < c->cnt; i++) {
		if (strcmp(c->entries[i].name, name) == 0) {
			free(c->entries[i].value);
			c->entries[i].value = v;
			return BROOK_ERR_NO_ERROR;
		}
	}
	if (c->cnt == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		zk_config_entry_t *e = realloc(c->entries, cap * sizeof(*e));

		if (!e) {
			free(v);
			return BROOK_ERR__NOMEM;
		}
		c->entries = e;
		c->cap = cap;
	}
	if (!(c->entries[c->cnt].name = strdup(name))) {
		free(v);
		return BROOK_ERR__NOMEM;
	}
	c->entries[c->cnt++].value = v;
	return BROOK_ERR_NO_ERROR;
}

const char *zk_topic_config_get(const zk_topic_config_t *c, const char *name)
{
	for (size_t i = 0; c && i < c->cnt; i++)
		if (strcmp(c->entries[i].name, name) == 0)
			return c->entries[i].value;
	return NULL;
}

brook_err_t zk_json_topic_config_decode(const char *data, size_t len, zk_topic_config_t **out,
					char *errstr, size_t errstr_size)
{
	brook_err_t err;
	json_t *root, *cfg, *v;
	const char *key;
	zk_topic_config_t *c = NULL;

	*out = NULL;
	root = load_object(data, len, SHAPE_CONFIG, &err, errstr, errstr_size);
	if (!root)
		return err;
	if (!(c = zk_topic_config_new())) {
		err = BROOK_ERR__NOMEM;
		goto done;
	}
	if ((err = get_int32(root, "version", REQUIRED, 1, 2, &c->version, SHAPE_CONFIG, errstr,
			     errstr_size)))
		goto done;
	cfg = json_object_get(root, "config");
	if (!cfg) {
		err = bad(errstr, errstr_size, SHAPE_CONFIG, "missing field \"config\"");
		goto done;
	}
	if (!json_is_object(cfg)) {
		err = bad(errstr, errstr_size, SHAPE_CONFIG, "\"config\": expected an object, got %s",
			  type_name(cfg));
		goto done;
	}
	json_object_foreach(cfg, key, v) {
		if (!valid_config_name(key)) {
			err = bad(errstr, errstr_size, SHAPE_CONFIG,
				  "\"config\": \"%s\" is not a valid setting name", key);
			goto done;
		}
		if (!json_is_string(v)) {
			err = bad(errstr, errstr_size, SHAPE_CONFIG,
				  "\"config\".\"%s\": expected a string (Kafka keeps every value as a "
				  "string), got %s", key, type_name(v));
			goto done;
		}
		if (json_string_length(v) > ZK_CONFIG_VALUE_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			err = bad(errstr, errstr_size, SHAPE_CONFIG, "\"config\".\"%s\": bad value", key);
			goto done;
		}
		if ((err = zk_topic_config_set(c, key, json_string_value(v))))
			goto done;
	}
	*out = c;
	c = NULL;
done:
	zk_topic_config_free(c);
	json_decref(root);
	return err;
}

brook_err_t zk_json_topic_config_encode(const zk_topic_config_t *c, char **out)
{
	json_t *root, *cfg;
	int fail;

	if (!c || c->version < 1 || c->version > 2)
		return BROOK_ERR__INVALID_ARG;
	root = json_object();
	cfg = json_object();
	if (!root || !cfg) {
		json_decref(root);
		json_decref(cfg);
		return BROOK_ERR__NOMEM;
	}
	fail = put(root, "version", json_integer(c->version));
	for (size_t i = 0; i < c->cnt && !fail; i++)
		fail = put(cfg, c->entries[i].name, json_string(c->entries[i].value));
	fail = fail || put(root, "config", json_incref(cfg));
	json_decref(cfg);
	if (fail) {
		json_decref(root);
		return BROOK_ERR__NOMEM;
	}
	return dump(root, out);
}

/* --- consumer group member ---------------------------------------------------- */

#define SHAPE_MEMBER "consumer member"

static int valid_pattern(const char *p)
{
	return strcmp(p, "static") == 0 || strcmp(p, "white_list") == 0 ||
	       strcmp(p, "black_list") == 0;
}

zk_consumer_member_t *zk_consumer_member_new(void)
{
	zk_consumer_member_t *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->version = 1;
	strcpy(m->pattern, "static");
	return m;
}

void zk_consumer_member_free(zk_consumer_member_t *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->sub_cnt; i++)
		free(m->subs[i].topic);
	free(m->subs);
	free(m);
}

/* With a static pattern the keys are topic names and must be valid ones;
 * regular expressions are only bounded in length. */
static int valid_subscription(const zk_consumer_member_t *m, const char *topic, int32_t streams)
{
	if (streams < 1 || !topic)
		return 0;
	if (strcmp(m->pattern, "static") == 0)
		return zk_topic_validate(topic, NULL, 0) == BROOK_ERR_NO_ERROR;
	return *topic && strlen(topic) <= ZK_CONFIG_VALUE_MAX;
}

brook_err_t zk_consumer_member_subscribe(zk_consumer_member_t *m, const char *topic, int32_t streams)
{
	char *t;

	if (!m || !valid_subscription(m, topic, streams))
		return BROOK_ERR__INVALID_ARG;
	for (size_t i = 0; i < m->sub_cnt; i++)
		if (strcmp(m->subs[i].topic, topic) == 0)
			return BROOK_ERR__EXISTS;
	if (m->sub_cnt == m->sub_cap) {
		size_t cap = m->sub_cap ? m->sub_cap * 2 : 4;
		zk_subscription_t *s = realloc(m->subs, cap * sizeof(*s));

		if (!s)
			return BROOK_ERR__NOMEM;
		m->subs = s;
		m->sub_cap = cap;
	}
	if (!(t = strdup(topic)))
		return BROOK_ERR__NOMEM;
	m->subs[m->sub_cnt].topic = t;
	m->subs[m->sub_cnt++].streams = streams;
	return BROOK_ERR_NO_ERROR;
}

brook_err_t zk_json_consumer_member_decode(const char *data, size_t len, zk_consumer_member_t **out,
					   char *errstr, size_t errstr_size)
{
	brook_err_t err;
	json_t *root, *sub, *v;
	const char *key;
	zk_consumer_member_t *m = NULL;

	*out = NULL;
	root = load_object(data, len, SHAPE_MEMBER, &err, errstr, errstr_size);
	if (!root)
		return err;
	if (!(m = zk_consumer_member_new())) {
		err = BROOK_ERR__NOMEM;
		goto done;
	}
	if ((err = get_int32(root, "version", REQUIRED, 1, 1, &m->version, SHAPE_MEMBER, errstr,
			     errstr_size)) ||
	    (err = get_str(root, "pattern", REQUIRED, 0, m->pattern, sizeof(m->pattern) - 1, NULL,
			   SHAPE_MEMBER, errstr, errstr_size)) ||
	    (err = get_timestamp(root, &m->timestamp_ms, SHAPE_MEMBER, errstr, errstr_size)))
		goto done;
	if (!valid_pattern(m->pattern)) {
		err = bad(errstr, errstr_size, SHAPE_MEMBER,
			  "\"pattern\": \"%s\" is not static, white_list or black_list", m->pattern);
		goto done;
	}
	sub = json_object_get(root, "subscription");
	if (!sub) {
		err = bad(errstr, errstr_size, SHAPE_MEMBER, "missing field \"subscription\"");
		goto done;
	}
	if (!json_is_object(sub)) {
		err = bad(errstr, errstr_size, SHAPE_MEMBER, "\"subscription\": expected an object, got %s",
			  type_name(sub));
		goto done;
	}
	json_object_foreach(sub, key, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > INT32_MAX) {
			err = bad(errstr, errstr_size, SHAPE_MEMBER,
				  "\"subscription\".\"%s\": expected a stream count >= 1, got %s", key,
				  json_is_integer(v) ? "a smaller number" : type_name(v));
			goto done;
		}
		if (!valid_subscription(m, key, (int32_t)json_integer_value(v))) {
			err = bad(errstr, errstr_size, SHAPE_MEMBER,
				  "\"subscription\": \"%s\" is not a valid %s", key,
				  strcmp(m->pattern, "static") == 0 ? "topic name" : "pattern");
			goto done;
		}
		if ((err = zk_consumer_member_subscribe(m, key, (int32_t)json_integer_value(v))))
			goto done;
	}
	*out = m;
	m = NULL;
done:
	zk_consumer_member_free(m);
	json_decref(root);
	return err;
}

brook_err_t zk_json_consumer_member_encode(const zk_consumer_member_t *m, char **out)
{
	json_t *root, *sub;
	int fail;

	if (!m || m->version != 1 || !valid_pattern(m->pattern) || m->timestamp_ms < 0)
		return BROOK_ERR__INVALID_ARG;
	for (size_t i = 0; i < m->sub_cnt; i++)
		if (!valid_subscription(m, m->subs[i].topic, m->subs[i].streams))
			return BROOK_ERR__INVALID_ARG;
	root = json_object();
	sub = json_object();
	if (!root || !sub) {
		json_decref(root);
		json_decref(sub);
		return BROOK_ERR__NOMEM;
	}
	fail = put(root, "version", json_integer(m->version));
	for (size_t i = 0; i < m->sub_cnt && !fail; i++)
		fail = put(sub, m->subs[i].topic, json_integer(m->subs[i].streams));
	fail = fail || put(root, "subscription", json_incref(sub)) ||
	       put(root, "pattern", json_string(m->pattern)) || put_timestamp(root, m->timestamp_ms);
	json_decref(sub);
	if (fail) {
		json_decref(root);
		return BROOK_ERR__NOMEM;
	}
	return dump(root, out);
}

/* --- /admin/preferred_replica_election ----------------------------------- */

#define SHAPE_ELECTION "preferred-replica election"

brook_err_t zk_json_election_topics_decode(const char *data, size_t len, char ***topics,
					   size_t *n, char *errstr, size_t errstr_size)
{
	brook_err_t err = BROOK_ERR_NO_ERROR;
	json_t *root, *parts, *e;
	size_t i;

	*topics = NULL;
	*n = 0;
	if (!(root = load_object(data, len, SHAPE_ELECTION, &err, errstr, errstr_size)))
		return err;
	parts = json_object_get(root, "partitions");
	if (!json_is_array(parts)) {
		json_decref(root);
		return bad(errstr, errstr_size, SHAPE_ELECTION, "\"partitions\": expected an array");
	}
	if (json_array_size(parts) &&
	    !(*topics = calloc(json_array_size(parts), sizeof(**topics)))) {
		json_decref(root);
		return BROOK_ERR__NOMEM;
	}
	json_array_foreach(parts, i, e) {
		json_t *t = json_object_get(e, "topic");
		const char *name;
		size_t k;

		if (!json_is_string(t)) {
			err = bad(errstr, errstr_size, SHAPE_ELECTION,
				  "partitions[%zu].topic: expected a string", i);
			break;
		}
		name = json_string_value(t);
		for (k = 0; k < *n && strcmp((*topics)[k], name); k++)
			;
		if (k < *n)
			continue; /* one election per topic covers its partitions */
		if (!((*topics)[*n] = strdup(name))) {
			err = BROOK_ERR__NOMEM;
			break;
		}
		(*n)++;
	}
	json_decref(root);
	if (err) {
		zk_json_election_topics_free(*topics, *n);
		*topics = NULL;
		*n = 0;
	}
	return err;
}

void zk_json_election_topics_free(char **topics, size_t n)
{
	for (size_t i = 0; topics && i < n; i++)
		free(topics[i]);
	free(topics);
}
