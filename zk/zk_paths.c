/* zk_paths.c - Kafka's znode paths and the names that go into them. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errstr.h"
#include "zk_paths.h"


brook_err_t zk_topic_validate(const char *topic, char *errstr, size_t errstr_size)
{
	size_t len;

	if (!topic || !*topic) {
		brook_errstr(errstr, errstr_size, "topic name is empty");
		return BROOK_ERR_INVALID_TOPIC_EXCEPTION;
	}
	len = strnlen(topic, ZK_TOPIC_MAX + 1);
	if (len > ZK_TOPIC_MAX) {
		brook_errstr(errstr, errstr_size, "topic name is longer than %d characters", ZK_TOPIC_MAX);
		return BROOK_ERR_INVALID_TOPIC_EXCEPTION;
	}
	/* "." and ".." would name the folder itself or its parent. */
	if (strcmp(topic, ".") == 0 || strcmp(topic, "..") == 0) {
		brook_errstr(errstr, errstr_size, "topic name cannot be \"%s\"", topic);
		return BROOK_ERR_INVALID_TOPIC_EXCEPTION;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)topic[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-')
			continue;
		brook_errstr(errstr, errstr_size,
			"topic name has an illegal character at position %zu (0x%02x); "
			"allowed are ASCII letters, digits, '.', '_' and '-'", i, c);
		return BROOK_ERR_INVALID_TOPIC_EXCEPTION;
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t zk_name_validate(const char *name, char *errstr, size_t errstr_size)
{
	size_t len;

	if (!name || !*name) {
		brook_errstr(errstr, errstr_size, "name is empty");
		return BROOK_ERR__INVALID_ARG;
	}
	len = strnlen(name, ZK_NAME_MAX + 1);
	if (len > ZK_NAME_MAX) {
		brook_errstr(errstr, errstr_size, "name is longer than %d bytes", ZK_NAME_MAX);
		return BROOK_ERR__INVALID_ARG;
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		brook_errstr(errstr, errstr_size, "name cannot be \"%s\"", name);
		return BROOK_ERR__INVALID_ARG;
	}
	/* ZooKeeper itself refuses control characters in paths; '/' would
	 * silently add a level. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/' || c < 0x20 || c == 0x7f) {
			brook_errstr(errstr, errstr_size,
				"name has an illegal character at position %zu (0x%02x)", i, c);
			return BROOK_ERR__INVALID_ARG;
		}
	}
	return BROOK_ERR_NO_ERROR;
}

brook_err_t zk_path_parse_id(const char *name, int32_t *id)
{
	int64_t v = 0;

	if (!name || !*name || (name[0] == '0' && name[1] != '\0'))
		return BROOK_ERR__BAD_MSG;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9')
			return BROOK_ERR__BAD_MSG;
		v = v * 10 + (*p - '0');
		if (v > INT32_MAX)
			return BROOK_ERR__BAD_MSG;
	}
	*id = (int32_t)v;
	return BROOK_ERR_NO_ERROR;
}

static brook_err_t build(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The one place that formats: a path that does not fit is an error, and
 * the buffer is left empty so a truncated path can never be used. */
static brook_err_t build(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!buf || size == 0)
		return BROOK_ERR__INVALID_ARG;
	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		return BROOK_ERR__INVALID_ARG;
	}
	return BROOK_ERR_NO_ERROR;
}

/* Checks the arguments shared by the builders; on failure the buffer is
 * emptied too, so callers that ignore the code still get no path. */
static brook_err_t check(char *buf, size_t size, const char *topic, const char *group,
			 const char *member, int64_t number)
{
	brook_err_t err = BROOK_ERR_NO_ERROR;

	if (topic)
		err = zk_topic_validate(topic, NULL, 0);
	if (!err && group)
		err = zk_name_validate(group, NULL, 0);
	if (!err && member)
		err = zk_name_validate(member, NULL, 0);
	if (!err && number < 0)
		err = BROOK_ERR__INVALID_ARG;
	if (err && buf && size > 0)
		buf[0] = '\0';
	return err;
}

brook_err_t zk_path_broker(char *buf, size_t size, int32_t broker_id)
{
	brook_err_t err = check(buf, size, NULL, NULL, NULL, broker_id);

	return err ? err : build(buf, size, ZK_PATH_BROKER_IDS "/%d", (int)broker_id);
}

brook_err_t zk_path_topic(char *buf, size_t size, const char *topic)
{
	brook_err_t err = check(buf, size, topic, NULL, NULL, 0);

	return err ? err : build(buf, size, ZK_PATH_TOPICS "/%s", topic);
}

brook_err_t zk_path_partitions(char *buf, size_t size, const char *topic)
{
	brook_err_t err = check(buf, size, topic, NULL, NULL, 0);

	return err ? err : build(buf, size, ZK_PATH_TOPICS "/%s/partitions", topic);
}

brook_err_t zk_path_partition(char *buf, size_t size, const char *topic, int32_t partition)
{
	brook_err_t err = check(buf, size, topic, NULL, NULL, partition);

	return err ? err : build(buf, size, ZK_PATH_TOPICS "/%s/partitions/%d", topic, (int)partition);
}

brook_err_t zk_path_partition_state(char *buf, size_t size, const char *topic, int32_t partition)
{
	brook_err_t err = check(buf, size, topic, NULL, NULL, partition);

	return err ? err : build(buf, size, ZK_PATH_TOPICS "/%s/partitions/%d/state", topic,
				 (int)partition);
}

brook_err_t zk_path_topic_config(char *buf, size_t size, const char *topic)
{
	brook_err_t err = check(buf, size, topic, NULL, NULL, 0);

	return err ? err : build(buf, size, ZK_PATH_CONFIG_TOPICS "/%s", topic);
}

brook_err_t zk_path_delete_topic(char *buf, size_t size, const char *topic)
{
	brook_err_t err = check(buf, size, topic, NULL, NULL, 0);

	return err ? err : build(buf, size, ZK_PATH_DELETE_TOPICS "/%s", topic);
}

brook_err_t zk_path_group(char *buf, size_t size, const char *group)
{
	brook_err_t err = check(buf, size, NULL, group, NULL, 0);

	return err ? err : build(buf, size, ZK_PATH_CONSUMERS "/%s", group);
}

brook_err_t zk_path_group_ids(char *buf, size_t size, const char *group)
{
	brook_err_t err = check(buf, size, NULL, group, NULL, 0);

	return err ? err : build(buf, size, ZK_PATH_CONSUMERS "/%s/ids", group);
}

brook_err_t zk_path_group_member(char *buf, size_t size, const char *group, const char *member)
{
	brook_err_t err = check(buf, size, NULL, group, member, 0);

	return err ? err : build(buf, size, ZK_PATH_CONSUMERS "/%s/ids/%s", group, member);
}

brook_err_t zk_path_group_owners(char *buf, size_t size, const char *group, const char *topic)
{
	brook_err_t err = check(buf, size, topic, group, NULL, 0);

	return err ? err : build(buf, size, ZK_PATH_CONSUMERS "/%s/owners/%s", group, topic);
}

brook_err_t zk_path_group_owner(char *buf, size_t size, const char *group, const char *topic,
				int32_t partition)
{
	brook_err_t err = check(buf, size, topic, group, NULL, partition);

	return err ? err : build(buf, size, ZK_PATH_CONSUMERS "/%s/owners/%s/%d", group, topic,
				 (int)partition);
}

brook_err_t zk_path_group_offsets(char *buf, size_t size, const char *group, const char *topic)
{
	brook_err_t err = check(buf, size, topic, group, NULL, 0);

	return err ? err : build(buf, size, ZK_PATH_CONSUMERS "/%s/offsets/%s", group, topic);
}

brook_err_t zk_path_group_offset(char *buf, size_t size, const char *group, const char *topic,
				 int32_t partition)
{
	brook_err_t err = check(buf, size, topic, group, NULL, partition);

	return err ? err : build(buf, size, ZK_PATH_CONSUMERS "/%s/offsets/%s/%d", group, topic,
				 (int)partition);
}
