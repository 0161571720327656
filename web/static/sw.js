// The service worker (served at /sw.js, scope /): shows each alert pushed to this browser as
// a notification and opens its page when the notification is tapped (its acknowledge action
// opens the signed acknowledge link, which asks before it changes anything). The payload is
// JSON made by the server: title, body, url, tag, event and, for an opening, ack_url and
// ack_title.
'use strict';

self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (event) { event.waitUntil(self.clients.claim()); });

// Only links to this site are opened.
function ours(url) {
  try {
    return new URL(url, self.location.origin).origin === self.location.origin ? url : '/';
  } catch (e) {
    return '/';
  }
}

self.addEventListener('push', function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { title: event.data ? event.data.text() : '' };
  }
  var options = {
    body: data.body || '',
    tag: data.tag || undefined,
    renotify: !!data.tag,
    lang: 'ja',
    data: { url: data.url || '/', ack: data.ack_url || null },
  };
  if (data.ack_url) options.actions = [{ action: 'ack', title: data.ack_title || '確認済みにする' }];
  event.waitUntil(self.registration.showNotification(data.title || 'agriops', options));
});

self.addEventListener('notificationclick', function (event) {
  event.notification.close();
  var d = event.notification.data || {};
  var url = ours(event.action === 'ack' && d.ack ? d.ack : d.url || '/');
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(function (list) {
      for (var i = 0; i < list.length; i++) {
        if (list[i].url === url && 'focus' in list[i]) return list[i].focus();
      }
      return self.clients.openWindow(url);
    })
  );
});
