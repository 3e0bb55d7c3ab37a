# cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed.cmake
# Writes file's bytes as `const char NAME[]` (NUL-terminated) and NAME_len,
# so that a page edited as a real HTML file is built into the plugin.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "/* Generated from ${IN} by embed.cmake: do not edit. */\n"
                  "#include <stddef.h>\n"
                  "const char ${NAME}[] = {\n${bytes}0};\n"
                  "const size_t ${NAME}_len = sizeof ${NAME} - 1;\n")
