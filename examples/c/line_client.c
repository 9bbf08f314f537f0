/*
 * line_client.c: a Winsock line client, written as on Windows.
 *
 *   line_client HOST PORT LINES
 *
 * Connects (getaddrinfo + connect), sends LINES lines of varying length
 * with send(), reads each echo back with recv() and checks every byte;
 * then sends one 256 KiB block with an overlapped WSASend (event object,
 * WSAGetOverlappedResult) while receiving it back with overlapped WSARecv,
 * and checks it too. Prints "ok LINES lines, N bytes" and exits 0, or
 * prints what differed and exits 1.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

#pragma comment(lib, "Ws2_32.lib")

#define MAX_LINE 4200
#define BLOCK (256 * 1024)

static int make_line(int i, char *out)
{
    int len = 1 + (i * 37) % 4000;
    int n = sprintf(out, "%d:", i);
    while (n < len)
        { out[n] = (char)('a' + (i + n) % 26); n++; }
    out[n++] = '\n';
    return n;
}

static int recv_exact(SOCKET s, char *buf, int len)
{
    int got = 0;
    while (got < len) {
        int n = recv(s, buf + got, len - got, 0);
        if (n == SOCKET_ERROR) {
            printf("recv failed with error %d\n", WSAGetLastError());
            return -1;
        }
        if (n == 0) {
            printf("connection closed after %d of %d bytes\n", got, len);
            return -1;
        }
        got += n;
    }
    return got;
}

int main(int argc, char **argv)
{
    WSADATA wsaData;
    struct addrinfo hints, *result = NULL, *ptr;
    SOCKET s = INVALID_SOCKET;
    char line[MAX_LINE], echo[MAX_LINE];
    int lines, i, rc;
    long long total = 0;

    if (argc != 4) {
        printf("usage: %s HOST PORT LINES\n", argv[0]);
        return 2;
    }
    lines = atoi(argv[3]);
    if ((rc = WSAStartup(MAKEWORD(2, 2), &wsaData)) != 0) {
        printf("WSAStartup failed with error %d\n", rc);
        return 1;
    }
    ZeroMemory(&hints, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    if ((rc = getaddrinfo(argv[1], argv[2], &hints, &result)) != 0) {
        printf("getaddrinfo failed with error %d\n", rc);
        WSACleanup();
        return 1;
    }
    for (ptr = result; ptr != NULL; ptr = ptr->ai_next) {
        s = socket(ptr->ai_family, ptr->ai_socktype, ptr->ai_protocol);
        if (s == INVALID_SOCKET) {
            printf("socket failed with error %d\n", WSAGetLastError());
            freeaddrinfo(result);
            WSACleanup();
            return 1;
        }
        if (connect(s, ptr->ai_addr, (int)ptr->ai_addrlen) == SOCKET_ERROR) {
            closesocket(s);
            s = INVALID_SOCKET;
            continue;
        }
        break;
    }
    freeaddrinfo(result);
    if (s == INVALID_SOCKET) {
        printf("unable to connect to %s:%s (error %d)\n", argv[1], argv[2], WSAGetLastError());
        WSACleanup();
        return 1;
    }

    for (i = 0; i < lines; i++) {
        int len = make_line(i, line);
        if (send(s, line, len, 0) != len) {
            printf("send failed with error %d\n", WSAGetLastError());
            return 1;
        }
        if (recv_exact(s, echo, len) != len)
            return 1;
        if (memcmp(line, echo, len) != 0) {
            printf("line %d came back different\n", i);
            return 1;
        }
        total += len;
    }

    {
        /* One big block: overlapped send and receive at the same time. */
        char *out = (char *)malloc(BLOCK), *in = (char *)malloc(BLOCK);
        WSAOVERLAPPED sendOv, recvOv;
        WSABUF sendBuf, recvBuf;
        DWORD sent = 0, flags = 0, got = 0, n = 0;
        WSAEVENT events[2];
        int done = 0;

        for (i = 0; i < BLOCK; i++)
            out[i] = (char)(i * 7 + i / 251);
        out[BLOCK - 1] = '\n';
        events[0] = WSACreateEvent();
        events[1] = WSACreateEvent();
        ZeroMemory(&sendOv, sizeof(sendOv));
        sendOv.hEvent = events[0];
        sendBuf.buf = out;
        sendBuf.len = BLOCK;
        if (WSASend(s, &sendBuf, 1, &n, 0, &sendOv, NULL) == SOCKET_ERROR && WSAGetLastError() != WSA_IO_PENDING) {
            printf("WSASend failed with error %d\n", WSAGetLastError());
            return 1;
        }
        while (got < BLOCK) {
            ZeroMemory(&recvOv, sizeof(recvOv));
            recvOv.hEvent = events[1];
            recvBuf.buf = in + got;
            recvBuf.len = BLOCK - got;
            flags = 0;
            if (WSARecv(s, &recvBuf, 1, &n, &flags, &recvOv, NULL) == SOCKET_ERROR && WSAGetLastError() != WSA_IO_PENDING) {
                printf("WSARecv failed with error %d\n", WSAGetLastError());
                return 1;
            }
            if (!WSAGetOverlappedResult(s, &recvOv, &n, TRUE, &flags)) {
                printf("WSAGetOverlappedResult (recv) failed with error %d\n", WSAGetLastError());
                return 1;
            }
            if (n == 0) {
                printf("connection closed during the block after %lu bytes\n", (unsigned long)got);
                return 1;
            }
            if (recvOv.InternalHigh != n) {
                printf("InternalHigh %lu != %lu\n", (unsigned long)recvOv.InternalHigh, (unsigned long)n);
                return 1;
            }
            got += n;
            WSAResetEvent(events[1]);
        }
        if (!WSAGetOverlappedResult(s, &sendOv, &sent, TRUE, &flags) || sent != BLOCK) {
            printf("the block's send failed: %lu bytes, error %d\n", (unsigned long)sent, WSAGetLastError());
            return 1;
        }
        for (i = 0; i < BLOCK; i++) {
            if (in[i] != out[i]) {
                printf("block byte %d differs\n", i);
                return 1;
            }
        }
        done = 1;
        total += BLOCK;
        WSACloseEvent(events[0]);
        WSACloseEvent(events[1]);
        free(out);
        free(in);
        (void)done;
    }

    shutdown(s, SD_SEND);
    closesocket(s);
    WSACleanup();
    printf("ok %d lines, %lld bytes\n", lines, total);
    return 0;
}
