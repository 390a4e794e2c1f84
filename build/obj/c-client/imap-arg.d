build/obj/c-client/imap-arg.o: c-client/imap-arg.c c-client/imap-arg.h \
 c-client/util.h
c-client/imap-arg.h:
c-client/util.h:
