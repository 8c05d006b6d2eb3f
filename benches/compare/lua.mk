# A Makefile in the shape of Lua's own for the sources the lua-src crate ships (the library;
# the crate has no lua.c/luac.c): compile every .c, archive it, and link a shared library too.
CC ?= cc
CFLAGS ?= -O2 -Wall -fPIC -DLUA_COMPAT_5_3 -DLUA_USE_LINUX
CORE := $(patsubst %.c,%.o,$(wildcard *.c))

all: liblua.a liblua.so

liblua.a: $(CORE)
	ar rcs $@ $^

liblua.so: $(CORE)
	$(CC) -shared -o $@ $^ -lm -ldl

clean:
	rm -f *.o liblua.a liblua.so

.PHONY: all clean
