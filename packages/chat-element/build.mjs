console.log('chat-element build: to do');
