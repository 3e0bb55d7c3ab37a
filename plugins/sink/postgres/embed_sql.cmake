# cmake -DIN=file.sql -DOUT=file.c -P embed_sql.cmake: the file as the C
# string pg_views_sql, byte by byte (no quoting to get wrong).
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* Generated from sql/views.sql by embed_sql.cmake. */\nextern const char pg_views_sql[];\nconst char pg_views_sql[] = {${bytes} 0x00};\n")
