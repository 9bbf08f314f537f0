/*
 * select_server.c: an echo server on WSAEventSelect, written the way the
 * classic Winsock samples write it: one thread, one event per socket,
 * WSAWaitForMultipleEvents over all of them, WSAEnumNetworkEvents to learn
 * what happened (FD_ACCEPT, FD_READ, FD_WRITE, FD_CLOSE) and non-blocking
 * WSARecv/WSASend until they fail with WSAEWOULDBLOCK (which is what
 * re-enables FD_READ and FD_WRITE).
 *
 *   select_server [PORT]        (0 = any free port; prints "listening on 127.0.0.1:PORT")
 */
#include <winsock2.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

#pragma comment(lib, "Ws2_32.lib")

#define DATA_BUFSIZE 8192

typedef struct _SOCKET_INFORMATION {
    CHAR Buffer[DATA_BUFSIZE];
    WSABUF DataBuf;
    SOCKET Socket;
    DWORD BytesSEND;
    DWORD BytesRECV;
} SOCKET_INFORMATION, *LPSOCKET_INFORMATION;

static DWORD EventTotal = 0;
static WSAEVENT EventArray[WSA_MAXIMUM_WAIT_EVENTS];
static LPSOCKET_INFORMATION SocketArray[WSA_MAXIMUM_WAIT_EVENTS];

static BOOL CreateSocketInformation(SOCKET s)
{
    LPSOCKET_INFORMATION SI;

    if ((EventArray[EventTotal] = WSACreateEvent()) == WSA_INVALID_EVENT) {
        printf("WSACreateEvent() failed with error %d\n", WSAGetLastError());
        return FALSE;
    }
    if ((SI = (LPSOCKET_INFORMATION)GlobalAlloc(GPTR, sizeof(SOCKET_INFORMATION))) == NULL) {
        printf("GlobalAlloc() failed with error %d\n", GetLastError());
        return FALSE;
    }
    SI->Socket = s;
    SI->BytesSEND = 0;
    SI->BytesRECV = 0;
    SocketArray[EventTotal] = SI;
    EventTotal++;
    return TRUE;
}

static void FreeSocketInformation(DWORD Event)
{
    LPSOCKET_INFORMATION SI = SocketArray[Event];
    DWORD i;

    closesocket(SI->Socket);
    GlobalFree(SI);
    WSACloseEvent(EventArray[Event]);
    for (i = Event; i < EventTotal - 1; i++) {
        EventArray[i] = EventArray[i + 1];
        SocketArray[i] = SocketArray[i + 1];
    }
    EventTotal--;
}

/* Receives and echoes until a call would block (or the peer closed: FALSE). */
static BOOL Pump(LPSOCKET_INFORMATION SI)
{
    DWORD Flags, RecvBytes, SendBytes;

    for (;;) {
        if (SI->BytesRECV == 0) {
            SI->DataBuf.buf = SI->Buffer;
            SI->DataBuf.len = DATA_BUFSIZE;
            Flags = 0;
            if (WSARecv(SI->Socket, &(SI->DataBuf), 1, &RecvBytes, &Flags, NULL, NULL) == SOCKET_ERROR) {
                if (WSAGetLastError() != WSAEWOULDBLOCK) {
                    printf("WSARecv() failed with error %d\n", WSAGetLastError());
                    return FALSE;
                }
                return TRUE; /* FD_READ is re-enabled */
            }
            if (RecvBytes == 0)
                return FALSE;
            SI->BytesRECV = RecvBytes;
            SI->BytesSEND = 0;
        }
        SI->DataBuf.buf = SI->Buffer + SI->BytesSEND;
        SI->DataBuf.len = SI->BytesRECV - SI->BytesSEND;
        if (WSASend(SI->Socket, &(SI->DataBuf), 1, &SendBytes, 0, NULL, NULL) == SOCKET_ERROR) {
            if (WSAGetLastError() != WSAEWOULDBLOCK) {
                printf("WSASend() failed with error %d\n", WSAGetLastError());
                return FALSE;
            }
            return TRUE; /* FD_WRITE will say when there is room */
        }
        SI->BytesSEND += SendBytes;
        if (SI->BytesSEND == SI->BytesRECV) {
            SI->BytesSEND = 0;
            SI->BytesRECV = 0;
        }
    }
}

int main(int argc, char **argv)
{
    WSADATA wsaData;
    SOCKET Listen, Accept;
    SOCKADDR_IN InternetAddr;
    int AddrLen = sizeof(InternetAddr);
    WSANETWORKEVENTS NetworkEvents;
    DWORD Event, i;
    int Ret;

    if ((Ret = WSAStartup(MAKEWORD(2, 2), &wsaData)) != 0) {
        printf("WSAStartup() failed with error %d\n", Ret);
        return 1;
    }
    if ((Listen = socket(AF_INET, SOCK_STREAM, 0)) == INVALID_SOCKET) {
        printf("socket() failed with error %d\n", WSAGetLastError());
        return 1;
    }
    if (!CreateSocketInformation(Listen))
        return 1;
    if (WSAEventSelect(Listen, EventArray[EventTotal - 1], FD_ACCEPT | FD_CLOSE) == SOCKET_ERROR) {
        printf("WSAEventSelect() failed with error %d\n", WSAGetLastError());
        return 1;
    }
    InternetAddr.sin_family = AF_INET;
    InternetAddr.sin_addr.s_addr = inet_addr("127.0.0.1");
    InternetAddr.sin_port = htons((u_short)(argc > 1 ? atoi(argv[1]) : 5150));
    if (bind(Listen, (PSOCKADDR)&InternetAddr, sizeof(InternetAddr)) == SOCKET_ERROR) {
        printf("bind() failed with error %d\n", WSAGetLastError());
        return 1;
    }
    if (listen(Listen, 5)) {
        printf("listen() failed with error %d\n", WSAGetLastError());
        return 1;
    }
    getsockname(Listen, (PSOCKADDR)&InternetAddr, &AddrLen);
    printf("listening on %s:%d\n", inet_ntoa(InternetAddr.sin_addr), ntohs(InternetAddr.sin_port));
    fflush(stdout);

    while (TRUE) {
        /* Wait for one of the sockets to receive I/O notification. */
        if ((Event = WSAWaitForMultipleEvents(EventTotal, EventArray, FALSE, WSA_INFINITE, FALSE)) == WSA_WAIT_FAILED) {
            printf("WSAWaitForMultipleEvents() failed with error %d\n", WSAGetLastError());
            return 1;
        }
        /* Serve the signalled event and every later one that is signalled too. */
        for (i = Event - WSA_WAIT_EVENT_0; i < EventTotal; i++) {
            Event = WSAWaitForMultipleEvents(1, &EventArray[i], TRUE, 0, FALSE);
            if (Event == WSA_WAIT_FAILED || Event == WSA_WAIT_TIMEOUT)
                continue;
            if (WSAEnumNetworkEvents(SocketArray[i]->Socket, EventArray[i], &NetworkEvents) == SOCKET_ERROR) {
                printf("WSAEnumNetworkEvents() failed with error %d\n", WSAGetLastError());
                return 1;
            }
            if (NetworkEvents.lNetworkEvents & FD_ACCEPT) {
                if (NetworkEvents.iErrorCode[FD_ACCEPT_BIT] != 0) {
                    printf("FD_ACCEPT failed with error %d\n", NetworkEvents.iErrorCode[FD_ACCEPT_BIT]);
                    break;
                }
                if ((Accept = accept(SocketArray[i]->Socket, NULL, NULL)) == INVALID_SOCKET) {
                    if (WSAGetLastError() != WSAEWOULDBLOCK) {
                        printf("accept() failed with error %d\n", WSAGetLastError());
                        return 1;
                    }
                    continue;
                }
                if (EventTotal >= WSA_MAXIMUM_WAIT_EVENTS) {
                    printf("Too many connections - closing socket.\n");
                    closesocket(Accept);
                    continue;
                }
                if (!CreateSocketInformation(Accept))
                    return 1;
                if (WSAEventSelect(Accept, EventArray[EventTotal - 1], FD_READ | FD_WRITE | FD_CLOSE) == SOCKET_ERROR) {
                    printf("WSAEventSelect() failed with error %d\n", WSAGetLastError());
                    return 1;
                }
            }
            if (NetworkEvents.lNetworkEvents & (FD_READ | FD_WRITE | FD_CLOSE)) {
                if ((NetworkEvents.lNetworkEvents & FD_READ) && NetworkEvents.iErrorCode[FD_READ_BIT] != 0) {
                    printf("FD_READ failed with error %d\n", NetworkEvents.iErrorCode[FD_READ_BIT]);
                    break;
                }
                if ((NetworkEvents.lNetworkEvents & FD_WRITE) && NetworkEvents.iErrorCode[FD_WRITE_BIT] != 0) {
                    printf("FD_WRITE failed with error %d\n", NetworkEvents.iErrorCode[FD_WRITE_BIT]);
                    break;
                }
                /* On FD_CLOSE the data still queued is read (and echoed) first. */
                if (!Pump(SocketArray[i]) || (NetworkEvents.lNetworkEvents & FD_CLOSE)) {
                    FreeSocketInformation(i);
                    i--;
                }
            }
        }
    }
}
