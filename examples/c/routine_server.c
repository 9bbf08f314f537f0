/*
 * routine_server.c: an echo server with overlapped I/O and completion
 * routines, written the way the book writes it: the main thread accepts
 * and signals AcceptEvent; the worker thread waits alertably with
 * WSAWaitForMultipleEvents(..., TRUE); the routines run there (the wait
 * returns WAIT_IO_COMPLETION) and re-post WSASend / WSARecv themselves.
 *
 *   routine_server [PORT]
 */
#include <winsock2.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

#pragma comment(lib, "Ws2_32.lib")

#define DATA_BUFSIZE 8192

typedef struct _SOCKET_INFORMATION {
    OVERLAPPED Overlapped; /* first: the routine gets this pointer back */
    SOCKET Socket;
    CHAR Buffer[DATA_BUFSIZE];
    WSABUF DataBuf;
    DWORD BytesSEND;
    DWORD BytesRECV;
} SOCKET_INFORMATION, *LPSOCKET_INFORMATION;

void CALLBACK WorkerRoutine(DWORD Error, DWORD BytesTransferred, LPWSAOVERLAPPED Overlapped, DWORD InFlags);
DWORD WINAPI WorkerThread(LPVOID lpParameter);

SOCKET AcceptSocket;
DWORD WorkerThreadId;
volatile LONG Connections = 0;

int main(int argc, char **argv)
{
    WSADATA wsaData;
    SOCKET ListenSocket;
    SOCKADDR_IN InternetAddr;
    int AddrLen = sizeof(InternetAddr);
    WSAEVENT AcceptEvent;
    HANDLE Thread;
    int Ret;

    if ((Ret = WSAStartup(0x0202, &wsaData)) != 0) {
        printf("WSAStartup failed with error %d\n", Ret);
        return 1;
    }
    if ((ListenSocket = WSASocket(AF_INET, SOCK_STREAM, 0, NULL, 0, WSA_FLAG_OVERLAPPED)) == INVALID_SOCKET) {
        printf("Failed to get a socket %d\n", WSAGetLastError());
        return 1;
    }
    InternetAddr.sin_family = AF_INET;
    InternetAddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    InternetAddr.sin_port = htons((u_short)(argc > 1 ? atoi(argv[1]) : 5150));
    if (bind(ListenSocket, (PSOCKADDR)&InternetAddr, sizeof(InternetAddr)) == SOCKET_ERROR) {
        printf("bind() failed with error %d\n", WSAGetLastError());
        return 1;
    }
    if (listen(ListenSocket, 5)) {
        printf("listen() failed with error %d\n", WSAGetLastError());
        return 1;
    }
    getsockname(ListenSocket, (PSOCKADDR)&InternetAddr, &AddrLen);
    printf("listening on %s:%d\n", inet_ntoa(InternetAddr.sin_addr), ntohs(InternetAddr.sin_port));
    fflush(stdout);

    if ((AcceptEvent = WSACreateEvent()) == WSA_INVALID_EVENT) {
        printf("WSACreateEvent() failed with error %d\n", WSAGetLastError());
        return 1;
    }
    if ((Thread = CreateThread(NULL, 0, WorkerThread, (LPVOID)AcceptEvent, 0, &WorkerThreadId)) == NULL) {
        printf("CreateThread failed with error %d\n", GetLastError());
        return 1;
    }
    while (TRUE) {
        AcceptSocket = accept(ListenSocket, NULL, NULL);
        if (WSASetEvent(AcceptEvent) == FALSE) {
            printf("WSASetEvent failed with error %d\n", WSAGetLastError());
            return 1;
        }
        /* Wait until the worker has taken the socket (book style hand-off). */
        while (AcceptSocket != INVALID_SOCKET)
            Sleep(1);
    }
}

DWORD WINAPI WorkerThread(LPVOID lpParameter)
{
    DWORD Flags, RecvBytes, Index;
    LPSOCKET_INFORMATION SocketInfo;
    WSAEVENT EventArray[1];

    EventArray[0] = (WSAEVENT)lpParameter;
    while (TRUE) {
        /* Wait for an accept() to complete, alertably: routines run here. */
        while (TRUE) {
            Index = WSAWaitForMultipleEvents(1, EventArray, FALSE, WSA_INFINITE, TRUE);
            if (Index == WSA_WAIT_FAILED) {
                printf("WSAWaitForMultipleEvents failed with error %d\n", WSAGetLastError());
                return FALSE;
            }
            if (Index != WAIT_IO_COMPLETION)
                break; /* an accept is ready */
        }
        WSAResetEvent(EventArray[Index - WSA_WAIT_EVENT_0]);

        if ((SocketInfo = (LPSOCKET_INFORMATION)GlobalAlloc(GPTR, sizeof(SOCKET_INFORMATION))) == NULL) {
            printf("GlobalAlloc() failed with error %d\n", GetLastError());
            return FALSE;
        }
        SocketInfo->Socket = AcceptSocket;
        AcceptSocket = INVALID_SOCKET;
        ZeroMemory(&(SocketInfo->Overlapped), sizeof(WSAOVERLAPPED));
        SocketInfo->BytesSEND = 0;
        SocketInfo->BytesRECV = 0;
        SocketInfo->DataBuf.len = DATA_BUFSIZE;
        SocketInfo->DataBuf.buf = SocketInfo->Buffer;
        InterlockedIncrement(&Connections);

        Flags = 0;
        if (WSARecv(SocketInfo->Socket, &(SocketInfo->DataBuf), 1, &RecvBytes, &Flags, &(SocketInfo->Overlapped),
                    WorkerRoutine) == SOCKET_ERROR) {
            if (WSAGetLastError() != WSA_IO_PENDING) {
                printf("WSARecv() failed with error %d\n", WSAGetLastError());
                return FALSE;
            }
        }
    }
}

void CALLBACK WorkerRoutine(DWORD Error, DWORD BytesTransferred, LPWSAOVERLAPPED Overlapped, DWORD InFlags)
{
    DWORD SendBytes, RecvBytes, Flags;
    LPSOCKET_INFORMATION SI = (LPSOCKET_INFORMATION)Overlapped;
    (void)InFlags;

    if (GetCurrentThreadId() != WorkerThreadId)
        printf("routine ran on thread %lu, not the issuing thread %lu\n", (unsigned long)GetCurrentThreadId(),
               (unsigned long)WorkerThreadId);
    if (Error != 0 || BytesTransferred == 0) {
        /* An error or the peer closed: close and free. */
        closesocket(SI->Socket);
        GlobalFree(SI);
        InterlockedDecrement(&Connections);
        return;
    }
    if (Overlapped->InternalHigh != BytesTransferred)
        printf("InternalHigh %lu != %lu\n", (unsigned long)Overlapped->InternalHigh, (unsigned long)BytesTransferred);

    if (SI->BytesRECV == 0) {
        SI->BytesRECV = BytesTransferred;
        SI->BytesSEND = 0;
    } else {
        SI->BytesSEND += BytesTransferred;
    }

    if (SI->BytesRECV > SI->BytesSEND) {
        ZeroMemory(&(SI->Overlapped), sizeof(WSAOVERLAPPED));
        SI->DataBuf.buf = SI->Buffer + SI->BytesSEND;
        SI->DataBuf.len = SI->BytesRECV - SI->BytesSEND;
        if (WSASend(SI->Socket, &(SI->DataBuf), 1, &SendBytes, 0, &(SI->Overlapped), WorkerRoutine) == SOCKET_ERROR) {
            if (WSAGetLastError() != WSA_IO_PENDING) {
                printf("WSASend() failed with error %d\n", WSAGetLastError());
                return;
            }
        }
    } else {
        SI->BytesRECV = 0;
        Flags = 0;
        ZeroMemory(&(SI->Overlapped), sizeof(WSAOVERLAPPED));
        SI->DataBuf.len = DATA_BUFSIZE;
        SI->DataBuf.buf = SI->Buffer;
        if (WSARecv(SI->Socket, &(SI->DataBuf), 1, &RecvBytes, &Flags, &(SI->Overlapped), WorkerRoutine) == SOCKET_ERROR) {
            if (WSAGetLastError() != WSA_IO_PENDING) {
                printf("WSARecv() failed with error %d\n", WSAGetLastError());
                return;
            }
        }
    }
}
