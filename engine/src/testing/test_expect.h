/* `sluice test`'s values: YAML written in a test file as the JSON an event
 * or a record is, and an expected record matched against a received one. */
#ifndef SLUICE_TEST_EXPECT_H
#define SLUICE_TEST_EXPECT_H

#include <jansson.h>
#include <stddef.h>

#include "pipeline_def.h"

/* A YAML node as JSON: maps and lists as objects and arrays; a quoted
 * scalar is a string; an unquoted one is null (~, null, empty), a boolean,
 * a number, or else a string, as YAML reads it. */
json_t *test_yaml_to_json(const cfg_node *n);

/* Does the received record (JSON text) match the expectation? A map
 * expects those fields (others may be there too), each value exactly; a
 * scalar is the whole record as JSON text. 0 when it matches, else -1
 * with the first difference in why. */
int test_record_matches(const cfg_node *want, const char *got, char *why, size_t whysize);

#endif
