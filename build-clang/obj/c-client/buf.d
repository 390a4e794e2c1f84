build-clang/obj/c-client/buf.o: c-client/buf.c c-client/buf.h \
  c-client/util.h

c-client/buf.h:

c-client/util.h:
