build-clang/obj/c-client/config.o: c-client/config.c c-client/buf.h \
  c-client/util.h c-client/config.h

c-client/buf.h:

c-client/util.h:

c-client/config.h:
