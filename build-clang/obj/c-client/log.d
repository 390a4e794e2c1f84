build-clang/obj/c-client/log.o: c-client/log.c c-client/log.h \
  c-client/util.h

c-client/log.h:

c-client/util.h:
