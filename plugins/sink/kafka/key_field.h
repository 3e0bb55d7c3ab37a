/* The `key_field` option of the kafka sink: a message key taken from a
 * top-level field of the record. Records decoded by the engine are read
 * through the host API; raw records (event: raw) are JSON text, scanned here
 * for just that one field. */
#ifndef SLUICE_KAFKA_KEY_FIELD_H
#define SLUICE_KAFKA_KEY_FIELD_H

#include <stddef.h>

/* Finds the top-level member `name` of the JSON object in json[0, len). A
 * string value is unescaped into buf, a number copied as written. Returns
 * the key length, or -1 when the member is missing, of another type, the
 * text is not an object, or the key does not fit in cap bytes. */
long key_field_from_json(const char *json, size_t len, const char *name, char *buf, size_t cap);

#endif
