build-clang/obj/c-client/test.o: c-client/test.c c-client/test.h \
  c-client/util.h

c-client/test.h:

c-client/util.h:
