/*
 * event_server.c: an echo server with overlapped I/O and event objects,
 * written the way the book writes it: the main thread accepts; a worker
 * thread waits on all events with WSAWaitForMultipleEvents (event 0 tells
 * it that a new socket arrived), reads each result with
 * WSAGetOverlappedResult and echoes it with WSASend.
 *
 *   event_server [PORT]        (0 = any free port; prints "listening on 127.0.0.1:PORT")
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
    WSAOVERLAPPED Overlapped;
    DWORD BytesSEND;
    DWORD BytesRECV;
} SOCKET_INFORMATION, *LPSOCKET_INFORMATION;

DWORD WINAPI ProcessIO(LPVOID lpParameter);

DWORD EventTotal = 0;
WSAEVENT EventArray[WSA_MAXIMUM_WAIT_EVENTS];
LPSOCKET_INFORMATION SocketArray[WSA_MAXIMUM_WAIT_EVENTS];
CRITICAL_SECTION CriticalSection;

int main(int argc, char **argv)
{
    WSADATA wsaData;
    SOCKET ListenSocket, AcceptSocket;
    SOCKADDR_IN InternetAddr;
    int AddrLen = sizeof(InternetAddr);
    DWORD Flags, RecvBytes, ThreadId;
    HANDLE Thread;
    int Ret;

    InitializeCriticalSection(&CriticalSection);
    if ((Ret = WSAStartup(MAKEWORD(2, 2), &wsaData)) != 0) {
        printf("WSAStartup failed with error %d\n", Ret);
        return 1;
    }
    if ((ListenSocket = WSASocket(AF_INET, SOCK_STREAM, 0, NULL, 0, WSA_FLAG_OVERLAPPED)) == INVALID_SOCKET) {
        printf("Failed to get a socket %d\n", WSAGetLastError());
        return 1;
    }
    InternetAddr.sin_family = AF_INET;
    InternetAddr.sin_addr.s_addr = inet_addr("127.0.0.1");
    InternetAddr.sin_port = htons((u_short)(argc > 1 ? atoi(argv[1]) : 5150));
    if (bind(ListenSocket, (PSOCKADDR)&InternetAddr, sizeof(InternetAddr)) == SOCKET_ERROR) {
        printf("bind() failed with error %d\n", WSAGetLastError());
        return 1;
    }
    if (listen(ListenSocket, SOMAXCONN)) {
        printf("listen() failed with error %d\n", WSAGetLastError());
        return 1;
    }
    getsockname(ListenSocket, (PSOCKADDR)&InternetAddr, &AddrLen);
    printf("listening on %s:%d\n", inet_ntoa(InternetAddr.sin_addr), ntohs(InternetAddr.sin_port));
    fflush(stdout);

    /* Event 0: "a new socket was added". */
    if ((EventArray[0] = WSACreateEvent()) == WSA_INVALID_EVENT) {
        printf("WSACreateEvent failed with error %d\n", WSAGetLastError());
        return 1;
    }
    EventTotal = 1;
    if ((Thread = CreateThread(NULL, 0, ProcessIO, NULL, 0, &ThreadId)) == NULL) {
        printf("CreateThread failed with error %d\n", GetLastError());
        return 1;
    }

    while (TRUE) {
        if ((AcceptSocket = accept(ListenSocket, NULL, NULL)) == INVALID_SOCKET) {
            printf("accept failed with error %d\n", WSAGetLastError());
            return 1;
        }
        EnterCriticalSection(&CriticalSection);
        if (EventTotal >= WSA_MAXIMUM_WAIT_EVENTS) {
            printf("Too many connections - closing socket.\n");
            closesocket(AcceptSocket);
            LeaveCriticalSection(&CriticalSection);
            continue;
        }
        if ((SocketArray[EventTotal] = (LPSOCKET_INFORMATION)GlobalAlloc(GPTR, sizeof(SOCKET_INFORMATION))) == NULL) {
            printf("GlobalAlloc() failed with error %d\n", GetLastError());
            return 1;
        }
        SocketArray[EventTotal]->Socket = AcceptSocket;
        ZeroMemory(&(SocketArray[EventTotal]->Overlapped), sizeof(OVERLAPPED));
        SocketArray[EventTotal]->BytesSEND = 0;
        SocketArray[EventTotal]->BytesRECV = 0;
        SocketArray[EventTotal]->DataBuf.len = DATA_BUFSIZE;
        SocketArray[EventTotal]->DataBuf.buf = SocketArray[EventTotal]->Buffer;
        if ((SocketArray[EventTotal]->Overlapped.hEvent = EventArray[EventTotal] = WSACreateEvent()) == WSA_INVALID_EVENT) {
            printf("WSACreateEvent() failed with error %d\n", WSAGetLastError());
            return 1;
        }
        Flags = 0;
        if (WSARecv(SocketArray[EventTotal]->Socket, &(SocketArray[EventTotal]->DataBuf), 1, &RecvBytes, &Flags,
                    &(SocketArray[EventTotal]->Overlapped), NULL) == SOCKET_ERROR) {
            if (WSAGetLastError() != ERROR_IO_PENDING) {
                printf("WSARecv() failed with error %d\n", WSAGetLastError());
                return 1;
            }
        }
        EventTotal++;
        LeaveCriticalSection(&CriticalSection);
        /* Tell the worker that the event array changed. */
        if (WSASetEvent(EventArray[0]) == FALSE) {
            printf("WSASetEvent failed with error %d\n", WSAGetLastError());
            return 1;
        }
    }
}

DWORD WINAPI ProcessIO(LPVOID lpParameter)
{
    DWORD Index, Flags, BytesTransferred, RecvBytes, SendBytes, i;
    LPSOCKET_INFORMATION SI;
    (void)lpParameter;

    while (TRUE) {
        if ((Index = WSAWaitForMultipleEvents(EventTotal, EventArray, FALSE, WSA_INFINITE, FALSE)) == WSA_WAIT_FAILED) {
            printf("WSAWaitForMultipleEvents failed %d\n", WSAGetLastError());
            return 0;
        }
        if ((Index - WSA_WAIT_EVENT_0) == 0) {
            WSAResetEvent(EventArray[0]);
            continue;
        }
        SI = SocketArray[Index - WSA_WAIT_EVENT_0];
        WSAResetEvent(EventArray[Index - WSA_WAIT_EVENT_0]);

        if (WSAGetOverlappedResult(SI->Socket, &(SI->Overlapped), &BytesTransferred, FALSE, &Flags) == FALSE ||
            BytesTransferred == 0) {
            closesocket(SI->Socket);
            GlobalFree(SI);
            WSACloseEvent(EventArray[Index - WSA_WAIT_EVENT_0]);
            EnterCriticalSection(&CriticalSection);
            if ((Index - WSA_WAIT_EVENT_0) + 1 != EventTotal)
                for (i = Index - WSA_WAIT_EVENT_0; i < EventTotal; i++) {
                    EventArray[i] = EventArray[i + 1];
                    SocketArray[i] = SocketArray[i + 1];
                }
            EventTotal--;
            LeaveCriticalSection(&CriticalSection);
            continue;
        }

        /* BytesRECV == 0: this was a receive. Otherwise a send completed. */
        if (SI->BytesRECV == 0) {
            SI->BytesRECV = BytesTransferred;
            SI->BytesSEND = 0;
        } else {
            SI->BytesSEND += BytesTransferred;
        }

        if (SI->BytesRECV > SI->BytesSEND) {
            /* Echo what is left of the received bytes. */
            ZeroMemory(&(SI->Overlapped), sizeof(WSAOVERLAPPED));
            SI->Overlapped.hEvent = EventArray[Index - WSA_WAIT_EVENT_0];
            SI->DataBuf.buf = SI->Buffer + SI->BytesSEND;
            SI->DataBuf.len = SI->BytesRECV - SI->BytesSEND;
            if (WSASend(SI->Socket, &(SI->DataBuf), 1, &SendBytes, 0, &(SI->Overlapped), NULL) == SOCKET_ERROR) {
                if (WSAGetLastError() != ERROR_IO_PENDING) {
                    printf("WSASend() failed with error %d\n", WSAGetLastError());
                    return 0;
                }
            }
        } else {
            SI->BytesRECV = 0;
            /* Everything was sent back: receive again. */
            Flags = 0;
            ZeroMemory(&(SI->Overlapped), sizeof(WSAOVERLAPPED));
            SI->Overlapped.hEvent = EventArray[Index - WSA_WAIT_EVENT_0];
            SI->DataBuf.len = DATA_BUFSIZE;
            SI->DataBuf.buf = SI->Buffer;
            if (WSARecv(SI->Socket, &(SI->DataBuf), 1, &RecvBytes, &Flags, &(SI->Overlapped), NULL) == SOCKET_ERROR) {
                if (WSAGetLastError() != ERROR_IO_PENDING) {
                    printf("WSARecv() failed with error %d\n", WSAGetLastError());
                    return 0;
                }
            }
        }
    }
}
