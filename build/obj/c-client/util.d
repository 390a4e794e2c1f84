build/obj/c-client/util.o: c-client/util.c c-client/util.h
c-client/util.h:
